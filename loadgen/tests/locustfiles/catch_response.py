"""Validating responses with catch_response, as Locust's documentation shows."""

from locust import HttpUser, between, task


class ApiUser(HttpUser):
    wait_time = between(1, 2)

    @task(4)
    def status(self):
        with self.client.get("/status", catch_response=True) as response:
            if response.status_code != 200:
                response.failure("Got wrong status")
            elif "version" not in response.json():
                response.failure("No version in the answer")

    @task(2)
    def missing_is_fine(self):
        with self.client.get("/does_not_exist/", catch_response=True) as response:
            if response.status_code == 404:
                response.success()

    @task(1)
    def order(self):
        with self.client.post("/orders", json={"item": 7}, catch_response=True) as r:
            data = r.json()
            if r.status_code in (200, 201) and data.get("state") == "accepted":
                r.success()
            elif r.status_code >= 500 or not r.ok:
                r.failure("order refused")
            else:
                r.failure("order not accepted")
