"""The worker comparison's scenario: users that call GET /health without waiting, the
same for every worker kind (the bench script swaps HttpUser for FastHttpUser)."""

from locust import HttpUser, constant, task


class HealthUser(HttpUser):
    wait_time = constant(0)

    @task
    def health(self):
        self.client.get("/health")
