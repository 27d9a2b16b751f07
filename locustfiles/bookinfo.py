"""Locust load for Istio's Bookinfo: /productpage through the ingress gateway, every page classified.

    locust -f locustfiles/bookinfo.py --host http://GATEWAY --expect v1=0.5,v3=0.5        # web UI on :8089
    locust -f locustfiles/bookinfo.py --headless -u 8 -r 8 -t 60s --host http://GATEWAY \\
        --scenario reviews-50-50 --verdict-json out.json --csv out                        # CI / graders

Every response is classified by the harness's classifier and reported under one request name per outcome
(``productpage [reviews v3]``, ``productpage [ratings-unavailable]``, ``productpage [mesh-error 503 UH]``), so
Locust's statistics and CSV show the split directly; non-pages are failures. A share of the users
(``--jason-share``) logs in as ``jason`` first (``POST /login``) and shows up as ``productpage jason [...]``.
Expectations (``--expect``, ``--expect-jason`` or ``--scenario``) drive sequential verdicts shown in the
"Bookinfo split" tab and written by ``--verdict-json``. Options: ``locust -f locustfiles/bookinfo.py --help``.
Distributed: ``--master`` / ``--worker`` (or ``--processes N``); the counts are aggregated at the master.
"""

from __future__ import annotations

from locust import FastHttpUser, constant, constant_throughput, events, task

from harness.drivers.locust import plugin
from harness.drivers.locust.outcomes import ANONYMOUS

plugin.install(events)


class BookinfoUser(FastHttpUser):
    """One browser: optionally logs in, then loads the product page over and over."""

    # Pool size 1 per user: a user is one browser with one request in flight.
    concurrency = 1
    network_timeout = 30.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        opts = plugin.options()
        rate = getattr(opts, "user_rate", None)
        self._pacing = (
            constant_throughput(rate) if rate else constant(getattr(opts, "think_time", 0.0) or 0.0)
        )
        self.path = getattr(opts, "page_path", None) or "/productpage"
        self.identity = plugin.next_identity()
        self.logged_in = self.identity == ANONYMOUS
        if not self.logged_in:
            self.login()

    def wait_time(self) -> float:
        return self._pacing(self)

    def login(self) -> None:
        """POST /login as the browser form does; the session cookie lands in the client's cookie jar."""
        with self.client.post(
            "/login",
            data={"username": self.identity, "passwd": "password"},
            name="login",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code not in (200, 302, 303):
                response.failure(f"login as {self.identity} gave HTTP {response.status_code}")
            elif not any(cookie.name == "session" for cookie in self.client.cookiejar):
                response.failure(f"login as {self.identity} set no session cookie")
            else:
                response.success()
                self.logged_in = True

    @task
    def productpage(self) -> None:
        if not self.logged_in:
            self.login()
            return
        with self.client.get(self.path, name="productpage", catch_response=True) as response:
            plugin.report_page(response, self.identity)
