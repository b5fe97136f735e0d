"""Constructs the import cannot carry over: each is warned about, never dropped in
silence. The class keeps what it could read."""

import random

from locust import HttpUser, between, events, task

from helpers import make_payload


@events.test_start.add_listener
def warm_up(environment, **kwargs):
    print("warming up")


class MixedUser(HttpUser):
    wait_time = between(1, 2)
    network_timeout = 5.0

    def on_start(self):
        response = self.client.post("/login", json={"user": "u1"})
        self.token = response.json()["token"]

    @task(2)
    def kept(self):
        self.client.get("/kept")

    @task
    def branchy(self):
        if random.random() < 0.5:
            self.client.get("/maybe")
        self.client.get("/always")

    @task
    def helper_payload(self):
        self.client.post("/upload", json=make_payload())

    @task
    def form_post(self):
        self.client.post("/form", data="a=1&b=2")

    @task
    def polling(self):
        while True:
            self.client.get("/poll")
