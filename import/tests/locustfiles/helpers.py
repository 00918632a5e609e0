"""Helpers (module functions and methods, with arguments and returns),
nested task sets and a while loop, against the recording target of the
tests (cli/tests/import_parity.rs): the same requests under Locust and
under the imported scenario."""
from locust import HttpUser, TaskSet, constant, task

BASE = "/shop"


def trace(kind, n=1):
    return f"{kind}-{n}"


def auth_headers(token):
    """Headers of a signed-in user."""
    return {"Authorization": "Bearer " + token, "X-Trace": trace("h")}


def login(user, name, password="pw"):
    r = user.client.post("/login", json={"user": name, "password": password})
    return r.json()["token"]


class Helpers(HttpUser):
    host = "http://127.0.0.1:1"
    wait_time = constant(0)

    def on_start(self):
        self.token = login(self, "u2")

    def item_path(self, sku):
        return f"{BASE}/items/{sku}"

    def add(self, sku, quantity=1):
        self.client.post(BASE + "/cart", json={"sku": sku, "quantity": quantity}, headers=auth_headers(self.token))

    def fetch(self, path):
        return self.client.get(path, headers={"X-Trace": trace("get", 2)})

    @task
    def shop(self):
        self.client.get(self.item_path("A-1"), headers=auth_headers(self.token))
        self.add("A-1")
        self.add(sku="B-2", quantity=3)
        r = self.fetch("/status")
        if r.json()["state"] == "ready":
            self.client.get("/ready")
        n = 0
        while n < 2:
            self.client.get(f"/page/{n}")
            n += 1


class Inner(TaskSet):
    @task
    def deep(self):
        self.client.get("/inner")
        self.interrupt()


class Outer(TaskSet):
    tasks = {Inner: 1}

    @task
    def top(self):
        self.client.get("/outer")

    @task
    def leave(self):
        self.interrupt()


class Nested(HttpUser):
    host = "http://127.0.0.1:1"
    wait_time = constant(0)
    tasks = [Outer]

    @task
    def own(self):
        self.client.get("/own")
