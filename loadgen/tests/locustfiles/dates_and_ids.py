"""Reports over date ranges, ids from uuid4, values from module constants."""

import datetime
import random
import uuid
from datetime import timedelta

from locust import HttpUser, between, task

SYMBOLS = ["AAPL", "MSFT", "GOOGL", "AMZN"]
LOOKBACK_DAYS = 30
BASE = "/api/v2"


class ReportUser(HttpUser):
    wait_time = between(1, 2)

    @task(3)
    def daily(self):
        today = datetime.date.today()
        since = today - timedelta(days=LOOKBACK_DAYS)
        self.client.get(
            f"{BASE}/reports/daily?symbol={random.choice(SYMBOLS[1:3])}&from={since.isoformat()}&to={today}",
            name=f"{BASE}/reports/daily",
        )

    @task
    def submit(self):
        self.client.post(
            BASE + "/reports",
            json={
                "id": str(uuid.uuid4()),
                "symbols": SYMBOLS[:2],
                "window": {"days": LOOKBACK_DAYS, "until": f"{datetime.date.today() + timedelta(weeks=1)}"},
                "weight": random.choice([1, 2, 3]),
            },
        )
