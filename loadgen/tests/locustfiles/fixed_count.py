"""One admin user at all times (fixed_count), the rest split 3:1 by weight."""

from locust import HttpUser, between, constant_throughput, task


class AdminUser(HttpUser):
    fixed_count = 1
    wait_time = constant_throughput(0.5)

    @task
    def dashboard(self):
        self.client.get("/admin/dashboard")


class Reader(HttpUser):
    weight = 3
    wait_time = between(2, 4)

    @task
    def article(self):
        self.client.get("/articles/latest")


class Writer(HttpUser):
    weight = 1
    wait_time = between(2, 4)

    @task
    def draft(self):
        self.client.put("/articles/draft", json={"title": "Draft", "tags": ["news", "tech"], "public": False})
