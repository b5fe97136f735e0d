"""Tasks as plain functions in a `tasks` list, and a weighted `tasks` dict."""

from locust import HttpUser, constant


def index(user):
    user.client.get("/")


def about(user):
    user.client.get("/about/")


def search(user):
    user.client.get("/search", params={"q": "load test", "lang": "en"})


class ListUser(HttpUser):
    wait_time = constant(1)
    tasks = [index, about, index]


class DictUser(HttpUser):
    wait_time = constant(1)
    tasks = {index: 5, search: 1}
