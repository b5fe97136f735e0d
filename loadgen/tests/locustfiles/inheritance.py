"""An abstract base class with the shared settings, login and a shared task; two
concrete users inherit it, one overriding the wait."""

import random

from locust import FastHttpUser, between, constant_pacing, task

API_HEADERS = {"Accept": "application/json", "X-Client": "loadtest"}


class BaseApiUser(FastHttpUser):
    abstract = True
    wait_time = between(1, 3)

    def on_start(self):
        self.client.headers.update(API_HEADERS)
        self.login()

    def login(self):
        self.client.post("/auth/login", json={"user": f"user{random.randint(1, 50)}", "password": "secret"}, name="/auth/login")

    @task(2)
    def profile(self):
        self.client.get("/me")


class CustomerUser(BaseApiUser):
    weight = 4

    @task(6)
    def products(self):
        self.client.get(f"/products?page={random.randint(1, 20)}", name="/products")


class SupportUser(BaseApiUser):
    weight = 1
    wait_time = constant_pacing(10)

    @task
    def tickets(self):
        self.client.get("/tickets")
