"""The quitting judge from Locust's documentation (an elif chain on the totals), next
to an init hook the import does not run."""

import logging

from locust import HttpUser, constant, events, task


@events.init.add_listener
def on_init(environment, **kwargs):
    logging.info("starting")


@events.quitting.add_listener
def _(environment, **kw):
    if environment.stats.total.fail_ratio > 0.01:
        logging.error("Test failed due to failure ratio > 1%")
        environment.process_exit_code = 1
    elif environment.stats.total.avg_response_time > 200:
        logging.error("Test failed due to average response time ratio > 200 ms")
        environment.process_exit_code = 1
    elif environment.stats.total.get_response_time_percentile(0.99) > 800:
        logging.error("Test failed due to 99th percentile response time > 800 ms")
        environment.process_exit_code = 1
    else:
        environment.process_exit_code = 0


class HealthUser(HttpUser):
    wait_time = constant(1)

    @task
    def health(self):
        self.client.get("/health")
