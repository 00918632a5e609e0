"""bench/run.sh's Locust rows: the plain GET of bench/plain-get.yaml in Locust.

Each user sends `GET /` as soon as the previous response is in (no wait, a
closed loop over its own keep-alive connection), like stampede's plain-get
users, under the same request name. bench/run.sh picks one class by name:

  locust -f bench/locustfile.py --host http://127.0.0.1:18080 \
      -u 50 -r 50 -t 20s --headless --only-summary --csv PREFIX FastGetter

FastGetter uses FastHttpUser (geventhttpclient), HttpGetter HttpUser
(python-requests). Both run in one Locust process: one Python thread,
gevent greenlets for the users.
"""

from locust import FastHttpUser, HttpUser, constant, task


class FastGetter(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("/", name="/")


class HttpGetter(HttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("/", name="/")
