"""Every method, request headers, query parameters and the generic client.request."""

import random

from locust import HttpUser, between, task

REGIONS = ["eu-west", "us-east", "ap-south"]
PAGE_SIZES = (10, 25, 50)


class RestUser(HttpUser):
    wait_time = between(0.1, 0.5)

    def on_start(self):
        self.client.headers["Authorization"] = "Bearer test-token"
        self.client.headers.update({"Accept": "application/json"})

    @task(5)
    def list_items(self):
        self.client.get(
            "/items",
            params={"region": random.choice(REGIONS), "size": random.choice(PAGE_SIZES)},
            name="/items",
            headers={"X-Trace": "on"},
        )

    @task
    def login_form(self):
        self.client.post("/login", data={"username": f"user {random.randint(1, 9)}", "remember": "yes"})

    @task
    def lifecycle(self):
        item = random.randint(1, 1000)
        self.client.put(f"/items/{random.randint(1, 1000)}", json={"name": "widget", "price": 9.5}, name="/items/[id]")
        self.client.patch(f"/items/{random.randint(1, 1000)}", json={"price": random.uniform(1, 20)}, name="/items/[id]")
        self.client.request("DELETE", f"/items/{random.randint(1, 1000)}", name="/items/[id]")
        self.client.head("/items")
        self.client.options("/items")
