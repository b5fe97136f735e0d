"""A checkout flow as a SequentialTaskSet: the steps in order, then leave."""

from locust import FastHttpUser, SequentialTaskSet, constant, task


class Checkout(SequentialTaskSet):
    def on_start(self):
        self.client.get("/cart")

    @task
    def add_item(self):
        self.client.post("/cart/items", json={"sku": "A-100", "quantity": 1})

    @task(2)
    def view_cart(self):
        self.client.get("/cart")

    @task
    def pay(self):
        self.client.post("/checkout", json={"card": "4111111111111111"})
        self.interrupt()

    @task
    def never_reached(self):
        self.client.get("/unreachable")


class Shopper(FastHttpUser):
    wait_time = constant(0)
    tasks = [Checkout]
