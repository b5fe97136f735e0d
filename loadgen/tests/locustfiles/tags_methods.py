"""Tagged methods (no `tasks` attribute), filtered with --tags and --exclude-tags."""

from locust import HttpUser, TaskSet, constant, tag, task


class ShopUser(HttpUser):
    wait_time = constant(1)

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

    @tag("admin")
    @task
    class Admin(TaskSet):
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
