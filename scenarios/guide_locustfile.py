"""The performance-testing guide's normal-load mix, written for real Locust.

GuideUser gets clients 50%, ML predictions 40% and executes trades 10% of the time,
with ACISAPIUser's wait of 1..5 s between tasks: the mix behind the guide's example
results (loadgen's embedded `guide` scenario, scenarios/guide.toml, is the same in
TOML). `harness locust guide` runs it against mock-api's `guide` profile:

    harness locust guide

The platform's verdict (its summary, PASSED or FAILED and the exit code) comes from the
project's locustfile, imported below for its test_stop hook.
"""

import random

from locust import HttpUser, between, task

import locustfile  # noqa: F401  (registers the platform's verdict at test stop)

TICKERS = ["AAPL", "GOOGL", "MSFT", "AMZN", "TSLA"]
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


class GuideUser(HttpUser):
    """The guide's example user: clients, predictions and the odd trade."""

    wait_time = between(1, 5)

    def on_start(self):
        self.client.headers.update(JSON_HEADERS)

    @task(5)
    def get_clients(self):
        self.client.get("/api/clients")

    @task(4)
    def predict(self):
        ticker = random.choice(TICKERS)
        self.client.get(f"/api/ml/predict?ticker={ticker}", name="/api/ml/predict")

    @task(1)
    def execute_trade(self):
        self.client.post(
            "/api/trading/execute",
            json={
                "client_id": random.randint(1, 10),
                "ticker": random.choice(TICKERS[:3]),
                "quantity": random.randint(1, 100),
                "side": random.choice(["buy", "sell"]),
                "order_type": "market",
            },
        )
