"""Tags on tasks and on a TaskSet, for --tags and --exclude-tags."""

from locust import HttpUser, TaskSet, constant, tag, task


@tag("admin")
class AdminPages(TaskSet):
    @task
    def users(self):
        self.client.get("/admin/users")

    @tag("slow")
    @task
    def report(self):
        self.client.get("/admin/report")

    @task
    def back(self):
        self.interrupt()


class ShopUser(HttpUser):
    wait_time = constant(1)
    tasks = {AdminPages: 1}

    @tag("browse")
    @task(3)
    def browse(self):
        self.client.get("/products")

    @tag("browse", "checkout")
    @task(2)
    def cart(self):
        self.client.get("/cart")

    @task
    def untagged(self):
        self.client.get("/health")
