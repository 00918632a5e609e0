"""Every construct the importer translates, against the recording target of
the tests (cli/tests/import_parity.rs): the requests each user sends are the
same under Locust and under the imported scenario."""
import random
import time
import uuid

from locust import FastHttpUser, HttpUser, SequentialTaskSet, TaskSet, between, constant, tag, task

API = "/api/v1"
PAGE_SIZE = 20


class Checkout(SequentialTaskSet):
    def on_start(self):
        self.client.post(API + "/cart", json={"fresh": True})

    @task
    def add(self):
        self.client.post(f"{API}/cart/items", json={"sku": "A-1", "quantity": 2, "tags": ["x", "y"]})

    @task
    def pay(self):
        with self.client.post(f"{API}/pay", json={"cart": self.user.cart_id}, catch_response=True) as r:
            if r.status_code != 200:
                r.failure("payment refused")
            else:
                r.success()
        self.interrupt()


class Browse(TaskSet):
    @tag("list")
    @task(3)
    def listing(self):
        self.client.get(API + "/items", params={"page": 1, "size": PAGE_SIZE}, name="items")

    @task(1)
    def one(self):
        item = 7
        self.client.get("%s/items/%d" % (API, item), name="item")


class Shopper(HttpUser):
    host = "http://127.0.0.1:1"
    weight = 2
    wait_time = constant(0)
    tasks = [Checkout]

    def on_start(self):
        r = self.client.post("/login", json={"user": "u1", "password": "pw"})
        self.token = r.json()["token"]
        self.cart_id = r.json().get("cart")
        self.client.headers.update({"Authorization": "Bearer " + self.token})

    def on_stop(self):
        self.client.post("/logout")


class Visitor(FastHttpUser):
    host = "http://127.0.0.1:1"
    fixed_count = 1
    wait_time = between(0.01, 0.02)
    tasks = {Browse: 2}


class Api(HttpUser):
    host = "http://127.0.0.1:1"
    wait_time = constant(0)

    @task
    def flows(self):
        self.client.headers["X-Trace"] = "t-{}".format(1)
        r = self.client.get("/status", timeout=5, allow_redirects=False)
        if r.json()["state"] == "ready":
            self.client.put("/jobs/1", data={"state": "go"})
        elif r.status_code == 503:
            self.client.delete("/jobs/1")
        else:
            self.client.patch("/jobs/1", data="raw body")
        for i in range(2):
            self.client.head("/ping")
        with self.client.get("/health", catch_response=True) as resp:
            if "ok" not in resp.text:
                resp.failure("not healthy")
        self.client.request("OPTIONS", "/cors")
        self.client.get(f"/users/{random.randint(1, 1)}", name="/users/[id]")
        self.client.post("/events", json={"id": str(uuid.uuid4()), "at": time.time(), "r": random.random()})
        time.sleep(0.01)


def ping_task(user):
    user.client.get("/fn", headers={"X-Trace": "fn"})


class Fn(HttpUser):
    host = "http://127.0.0.1:1"
    wait_time = constant(0)
    tasks = {ping_task: 2}
