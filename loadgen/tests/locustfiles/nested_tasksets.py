"""Nested TaskSets as Locust's documentation writes them: a forum section a user enters
with weight 2, leaves with weight 1, and a subforum nested in it."""

import random

from locust import HttpUser, TaskSet, between, task


class ForumSection(TaskSet):
    @task(10)
    def view_thread(self):
        self.client.get(f"/forum/thread/{random.randint(1, 500)}", name="/forum/thread/[id]")

    @task
    def create_thread(self):
        self.client.post("/forum/thread", json={"title": "hello", "body": "first post"})

    @task
    class SubForum(TaskSet):
        @task(3)
        def read(self):
            self.client.get("/forum/sub/latest")

        @task
        def leave(self):
            self.interrupt()

    @task
    def stop(self):
        self.interrupt()


class ForumUser(HttpUser):
    wait_time = between(0.5, 1.5)
    tasks = {ForumSection: 2}

    @task
    def index(self):
        # Ignored: `tasks` is set, so Locust runs only ForumSection.
        self.client.get("/")


class BrowsingUser(HttpUser):
    wait_time = between(0.5, 1.5)

    @task(3)
    def index(self):
        self.client.get("/")

    @task
    class Browse(TaskSet):
        @task(4)
        def category(self):
            self.client.get(f"/category/{random.choice(['books', 'music', 'films'])}", name="/category/[name]")

        @task(2)
        def done(self):
            self.client.get("/basket")
            self.interrupt()
