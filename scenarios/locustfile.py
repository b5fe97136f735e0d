"""The ACIS platform's load profile, written for real Locust.

This is the platform's own locustfile as its documentation describes it (three user
classes, their waits and task weights). Point it at mock-api to check that the mock
behaves like the platform under Locust, unchanged:

    mock-api --profile guide &
    locust -f scenarios/locustfile.py --host http://127.0.0.1:8000 \
        --headless -u 50 -r 10 -t 60s --csv out/locust

loadgen's embedded `acis` scenario (scenarios/acis.toml) is the same profile in TOML.
At test stop this file prints the platform's summary and judges the run as the
platform does: failure ratio over 5%, average over 2000 ms or p95 over 5000 ms fail it.
"""

import random
from datetime import date, timedelta

from locust import HttpUser, between, events, task

TICKERS = ["AAPL", "GOOGL", "MSFT", "AMZN", "TSLA", "NVDA", "META", "NFLX"]
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


class ACISAPIUser(HttpUser):
    """Normal platform use: browsing clients, predictions and the odd trade."""

    wait_time = between(1, 5)

    def on_start(self):
        self.client.headers.update(JSON_HEADERS)

    @task(5)
    def get_clients(self):
        self.client.get("/api/clients")

    @task(3)
    def get_client(self):
        self.client.get(f"/api/clients/{random.randint(1, 10)}", name="/api/clients/[id]")

    @task(2)
    def get_portfolio(self):
        self.client.get(
            f"/api/clients/{random.randint(1, 10)}/portfolio",
            name="/api/clients/[id]/portfolio",
        )

    @task(4)
    def predict(self):
        ticker = random.choice(TICKERS[:5])
        self.client.get(f"/api/ml/predict?ticker={ticker}", name="/api/ml/predict")

    @task(2)
    def optimize(self):
        self.client.get(
            f"/api/portfolio/optimize/{random.randint(1, 10)}",
            name="/api/portfolio/optimize/[id]",
        )

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

    @task(3)
    def trading_history(self):
        self.client.get(
            f"/api/trading/history/{random.randint(1, 10)}",
            name="/api/trading/history/[id]",
        )

    @task(2)
    def model_performance(self):
        self.client.get("/api/ml/performance")

    @task(1)
    def health(self):
        self.client.get("/health")


class ACISStressTestUser(HttpUser):
    """Stress: rapid predictions, concurrent optimisations and bulk trades."""

    wait_time = between(0.5, 2)

    def on_start(self):
        self.client.headers.update(JSON_HEADERS)

    @task(10)
    def rapid_predictions(self):
        ticker = random.choice(TICKERS)
        self.client.get(f"/api/ml/predict?ticker={ticker}", name="/api/ml/predict")

    @task(5)
    def concurrent_optimizations(self):
        self.client.get(
            f"/api/portfolio/optimize/{random.randint(1, 10)}",
            name="/api/portfolio/optimize/[id]",
        )

    @task(3)
    def bulk_trades(self):
        for _ in range(5):
            self.client.post(
                "/api/trading/execute",
                json={
                    "client_id": random.randint(1, 10),
                    "ticker": random.choice(TICKERS[:4]),
                    "quantity": random.randint(10, 500),
                    "side": random.choice(["buy", "sell"]),
                    "order_type": "market",
                },
            )


class ACISBackgroundJobUser(HttpUser):
    """Long-running work: model training, bulk data fetches, rebalancing."""

    wait_time = between(5, 15)

    def on_start(self):
        self.client.headers.update(JSON_HEADERS)

    @task(1)
    def train_model(self):
        self.client.post(
            "/api/ml/train",
            json={
                "model_type": random.choice(["growth", "value", "dividend", "momentum"]),
                "lookback_days": random.choice([30, 60, 90, 180]),
            },
        )

    @task(2)
    def historical_data(self):
        end = date.today()
        start = end - timedelta(days=365)
        ticker = random.choice(["AAPL", "GOOGL", "MSFT"])
        self.client.get(
            f"/api/data/historical?ticker={ticker}&start={start}&end={end}",
            name="/api/data/historical",
        )

    @task(1)
    def rebalance(self):
        self.client.post(
            f"/api/portfolio/rebalance/{random.randint(1, 10)}",
            name="/api/portfolio/rebalance/[id]",
        )


@events.test_stop.add_listener
def judge(environment, **_kwargs):
    """Prints the platform's summary and fails the run on its three criteria."""
    total = environment.stats.total
    if total.num_requests == 0:
        print("No requests were made.")
        return
    fail_ratio = total.fail_ratio
    average = total.avg_response_time
    p95 = total.get_response_time_percentile(0.95)
    p99 = total.get_response_time_percentile(0.99)
    print(f"Total requests: {total.num_requests}")
    print(f"Failed requests: {total.num_failures}")
    print(f"Failure rate: {fail_ratio * 100:.2f}%")
    print(f"Average response time: {average:.2f}ms")
    print(f"95th percentile: {p95:.2f}ms")
    print(f"99th percentile: {p99:.2f}ms")
    print(f"Requests/s: {total.total_rps:.2f}")
    breaches = []
    if fail_ratio > 0.05:
        breaches.append(f"failure ratio {fail_ratio * 100:.2f}% is over 5%")
    if average > 2000:
        breaches.append(f"average response time {average:.0f}ms is over 2000ms")
    if p95 > 5000:
        breaches.append(f"95th percentile {p95:.0f}ms is over 5000ms")
    if breaches:
        print("FAILED")
        for breach in breaches:
            print(f"  - {breach}")
        environment.process_exit_code = 1
    else:
        print("PASSED")
        # Locust exits 1 when any request failed unless the test sets the code: a run
        # within the criteria passes even with a few failed requests (the guide's trades
        # fail 10% of the time while the whole run stays under 5%).
        environment.process_exit_code = 0
