import threading

import psycopg2
from locust import HttpUser, events, task


@events.test_start.add_listener
def on_test_start(environment, **kwargs):
    print("starting")


class Db(HttpUser):
    @task
    def query(self):
        conn = psycopg2.connect("dbname=test")
        self.client.get("/ok")
        try:
            self.client.get("/maybe")
        except Exception:
            pass
