"""A mix against mock-api's routes that real Locust and loadgen both run in the tests:
two classes, a nested TaskSet, catch_response checks on the status and the JSON body.
Short waits, so a short run gives thousands of requests; the TaskSet leaves with
reschedule=False, so that the user waits after it as after any task."""

import random

from locust import HttpUser, TaskSet, constant, task

TICKERS = ["AAPL", "GOOGL", "MSFT", "AMZN"]


class Analyst(HttpUser):
    weight = 3
    wait_time = constant(0.2)

    @task(4)
    def predict(self):
        self.client.get(f"/api/ml/predict?ticker={random.choice(TICKERS)}", name="/api/ml/predict")

    @task(2)
    def clients(self):
        self.client.get("/api/clients")

    @task(2)
    class Desk(TaskSet):
        @task
        def trade(self):
            with self.client.post(
                "/api/trading/execute",
                json={
                    "client_id": random.randint(1, 10),
                    "ticker": random.choice(TICKERS[:3]),
                    "quantity": random.randint(1, 100),
                    "side": random.choice(["buy", "sell"]),
                    "order_type": "market",
                },
                catch_response=True,
            ) as response:
                if response.status_code != 200:
                    response.failure("trade refused")

        @task
        def history_and_leave(self):
            self.client.get(f"/api/trading/history/{random.randint(1, 10)}", name="/api/trading/history/[id]")
            self.interrupt(reschedule=False)


class Monitor(HttpUser):
    weight = 1
    wait_time = constant(0.2)

    @task(3)
    def health(self):
        with self.client.get("/health", catch_response=True) as r:
            if r.status_code != 200:
                r.failure("unhealthy")
            elif r.json().get("status") != "healthy":
                r.failure("degraded")

    @task
    def performance(self):
        self.client.get("/api/ml/performance")
