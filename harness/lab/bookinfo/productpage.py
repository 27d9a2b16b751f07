"""productpage v1 (productpage.py): the Flask front end, its session cookie, API routes and metrics.

It calls details once and reviews up to twice (the fault-injection task's deliberate retry), each with a 3 s
timeout, forwarding the tracing and identity headers the real image forwards, and renders its era's page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from harness.lab.bookinfo._common import HTML, access_log, respond, service_url
from harness.lab.bookinfo.templates import PRODUCT, PageRenderer, escape, render_index
from harness.lab.http import HttpRequest, HttpResponse, PodContext, UpstreamError
from harness.model import Era

CALL_TIMEOUT_S = 3.0
REVIEWS_TRIES = 2
DETAILS_ERROR = "Sorry, product details are currently unavailable for this book."
REVIEWS_ERROR = "Sorry, product reviews are currently unavailable for this book."
RATINGS_ERROR = "Sorry, product ratings are currently unavailable for this book."

# Forwarded by every image (the 1.16.2 list) ...
_BASE_FORWARDED = (
    "x-request-id",
    "x-ot-span-context",
    "x-datadog-trace-id",
    "x-datadog-parent-id",
    "x-datadog-sampling-priority",
    "traceparent",
    "tracestate",
    "x-cloud-trace-context",
    "grpc-trace-bin",
    "user-agent",
)
_IDENTITY_FORWARDED = ("cookie", "authorization", "jwt")  # ... from image 1.16.4
_SW8_FORWARDED = ("sw8",)  # ... from image 1.17.0
_B3 = ("x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags")

# --- Flask's signed session cookie (itsdangerous URLSafeTimedSerializer, salt "cookie-session", SHA1) ---

SECRET_KEY = b'_5#y2L"F4Q8z\n\xec]/'
SESSION_MAX_AGE_S = 31 * 24 * 3600  # Flask's default permanent_session_lifetime bounds cookie age
_SIGNING_KEY = hmac.new(SECRET_KEY, b"cookie-session", hashlib.sha1).digest()


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_session(session: Mapping[str, Any], timestamp: int) -> str:
    """The `session` cookie value Flask sets for `session` at `timestamp` (epoch seconds)."""
    payload = _b64encode(json.dumps(dict(session), separators=(",", ":")).encode())
    value = f"{payload}.{_b64encode(timestamp.to_bytes((timestamp.bit_length() + 7) // 8 or 1, 'big'))}"
    signature = hmac.new(_SIGNING_KEY, value.encode(), hashlib.sha1).digest()
    return f"{value}.{_b64encode(signature)}"


def read_session(cookie_value: str, now: float) -> dict[str, Any]:
    """The session in a cookie value; empty when unsigned, tampered with or expired."""
    try:
        payload, stamp, signature = cookie_value.rsplit(".", 2)
        expected = hmac.new(_SIGNING_KEY, f"{payload}.{stamp}".encode(), hashlib.sha1).digest()
        if not hmac.compare_digest(expected, _b64decode(signature)):
            return {}
        if now - int.from_bytes(_b64decode(stamp), "big") > SESSION_MAX_AGE_S:
            return {}
        session = json.loads(_b64decode(payload))
    except (ValueError, TypeError):
        return {}
    return session if isinstance(session, dict) else {}


def _cookie(headers: Mapping[str, str], name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def _redirect(location: str, extra: list[tuple[str, str]]) -> HttpResponse:
    target = escape(location)
    body = (
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n"
        f'<p>You should be redirected automatically to the target URL: <a href="{target}">{target}</a>. '
        "If not, click the link.\n"
    ).encode()
    headers = [("content-type", HTML), ("content-length", str(len(body))), ("location", location), *extra]
    return HttpResponse(302, headers, body)


# --- image features -----------------------------------------------------------------------------------------

_TAG = re.compile(r":(\d+)\.(\d+)\.(\d+)(?:@.*)?$")


def _image_version(image: str) -> tuple[int, int, int] | None:
    match = _TAG.search(image.rsplit("/", 1)[-1])
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


class ProductPageApp:
    """All productpage routes for one pod."""

    def __init__(self, ctx: PodContext, clock: Callable[[], float] = time.time) -> None:
        self.ctx = ctx
        self.clock = clock
        env = ctx.env
        self.details_base = service_url(env, "details")
        self.reviews_base = service_url(env, "reviews")
        self.ratings_base = service_url(env, "ratings")
        version = _image_version(ctx.image)
        # Without a readable tag, the era stands for the image: A = 1.16.2, B and C = 1.19.1 and later.
        if version is None:
            version = (1, 16, 2) if ctx.era is Era.A else (1, 19, 1)
        forwarded = list(_BASE_FORWARDED)
        if version >= (1, 16, 4):
            forwarded += _IDENTITY_FORWARDED
        if version >= (1, 17, 0):
            forwarded += _SW8_FORWARDED
        self.forwarded = tuple(forwarded)
        # jaeger-client (images up to 1.18.0) always injects b3 for its own span; OpenTelemetry (1.19.1+)
        # passes incoming b3 ids through unchanged and adds nothing.
        self.jaeger_b3 = version < (1, 19, 0)
        self.renderer = PageRenderer(ctx.era)
        self.index_page = render_index(ctx.era, self._service_tree())
        self.metrics_enabled = ctx.era is not Era.A
        self.results: dict[tuple[str, int], int] = {}
        self.static = _static_assets(ctx.era)

    def _service_tree(self) -> dict[str, Any]:
        details = {"name": self.details_base, "endpoint": "details", "children": []}
        ratings = {"name": self.ratings_base, "endpoint": "ratings", "children": []}
        reviews = {"name": self.reviews_base, "endpoint": "reviews", "children": [ratings]}
        return {"name": self.details_base, "endpoint": "details", "children": [details, reviews]}

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        return access_log(self.ctx, request, await self._route(request))

    async def _route(self, request: HttpRequest) -> HttpResponse:
        path = request.path_only
        if path == "/productpage":
            return await self.product_page(request)
        if path.startswith("/static/"):
            asset = self.static.get(path)
            return respond(200, asset[1], asset[0]) if asset else _not_found()
        if path in ("/", "/index.html"):
            return respond(200, self.index_page, HTML)
        if path == "/health":
            return respond(200, "Product page is healthy", HTML)
        if path == "/login":
            return self.login(request) if request.method == "POST" else _method_not_allowed("OPTIONS, POST")
        if path == "/logout":
            return self.logout(request)
        if path == "/metrics" and self.metrics_enabled:
            return respond(200, self.metrics(), HTML)
        if path.startswith("/api/v1/products"):
            return await self.api(request, path[len("/api/v1/products") :])
        return _not_found()

    # --- session -----------------------------------------------------------------------------------------

    def user(self, request: HttpRequest) -> str | None:
        value = _cookie(request.headers, "session")
        if not value:
            return None
        user = read_session(value, self.clock()).get("user")
        return user if isinstance(user, str) else None

    def login(self, request: HttpRequest) -> HttpResponse:
        form = parse_qs(request.query) | parse_qs(request.body.decode("utf-8", errors="replace"))
        username = form.get("username", [None])[0]
        cookie = sign_session({"user": username}, int(self.clock()))
        return _redirect(
            request.headers.get("referer", "None"),
            [("vary", "Cookie"), ("set-cookie", f"session={cookie}; HttpOnly; Path=/")],
        )

    def logout(self, request: HttpRequest) -> HttpResponse:
        extra = []
        if _cookie(request.headers, "session"):
            # Popping the only key empties the session, and Flask then deletes the cookie.
            extra = [
                ("vary", "Cookie"),
                (
                    "set-cookie",
                    "session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; Path=/",
                ),
            ]
        return _redirect(request.headers.get("referer", "None"), extra)

    # --- outbound calls ----------------------------------------------------------------------------------

    def forward_headers(self, request: HttpRequest) -> dict[str, str]:
        incoming = request.headers
        headers = {name: incoming[name] for name in self.forwarded if name in incoming}
        if self.jaeger_b3:
            span_id = f"{self.ctx.rng.getrandbits(64):016x}"
            trace_id = incoming.get("x-b3-traceid")
            if trace_id:
                headers["x-b3-traceid"] = trace_id
                if "x-b3-spanid" in incoming:
                    headers["x-b3-parentspanid"] = incoming["x-b3-spanid"]
                headers["x-b3-sampled"] = incoming.get("x-b3-sampled", "1")
            else:
                headers["x-b3-traceid"] = span_id  # a jaeger root span's id is its trace id
                headers["x-b3-sampled"] = "1"
            headers["x-b3-spanid"] = span_id
        else:
            headers.update((name, incoming[name]) for name in _B3 if name in incoming)
        user = self.user(request)
        if user is not None:
            headers["end-user"] = user
        return headers

    async def _get(self, url: str, headers: Mapping[str, str]) -> HttpResponse | None:
        try:
            return await self.ctx.upstream.request("GET", url, headers=headers, timeout_s=CALL_TIMEOUT_S)
        except UpstreamError:
            return None

    def _count(self, app: str, status: int) -> None:
        key = (app, status)
        self.results[key] = self.results.get(key, 0) + 1

    async def details(
        self, product_id: str, headers: Mapping[str, str]
    ) -> tuple[int, bytes | dict[str, Any]]:
        response = await self._get(f"{self.details_base}/details/{product_id}", headers)
        status = response.status if response is not None else 500
        self._count("details", status)
        if response is not None and status == 200:
            return 200, response.body
        return status, {"error": DETAILS_ERROR}

    async def reviews(
        self, product_id: str, headers: Mapping[str, str]
    ) -> tuple[int, bytes | dict[str, Any]]:
        response = None
        # Do not remove: the real app retries on purpose ("bug introduced explicitly" for the fault task).
        for _ in range(REVIEWS_TRIES):
            response = await self._get(f"{self.reviews_base}/reviews/{product_id}", headers)
            if response is not None and response.status == 200:
                self._count("reviews", 200)
                return 200, response.body
        status = response.status if response is not None else 500
        self._count("reviews", status)
        return status, {"error": REVIEWS_ERROR}

    async def ratings(
        self, product_id: str, headers: Mapping[str, str]
    ) -> tuple[int, bytes | dict[str, Any]]:
        response = await self._get(f"{self.ratings_base}/ratings/{product_id}", headers)
        status = response.status if response is not None else 500
        self._count("ratings", status)
        if response is not None and status == 200:
            return 200, response.body
        return status, {"error": RATINGS_ERROR}

    # --- pages ---------------------------------------------------------------------------------------------

    async def product_page(self, request: HttpRequest) -> HttpResponse:
        headers = self.forward_headers(request)
        details_status, details = await self.details("0", headers)
        reviews_status, reviews = await self.reviews("0", headers)
        page = self.renderer.render(
            user=headers.get("end-user"),
            details_status=details_status,
            details=details,
            reviews_status=reviews_status,
            reviews=reviews,
        )
        return respond(200, page, HTML)

    async def api(self, request: HttpRequest, rest: str) -> HttpResponse:
        if rest in ("", "/"):
            return respond(200, json.dumps([PRODUCT]))
        parts = rest.strip("/").split("/")
        fetchers = {"": self.details, "reviews": self.reviews, "ratings": self.ratings}
        fetch = fetchers.get(parts[1]) if len(parts) == 2 else fetchers[""] if len(parts) == 1 else None
        if fetch is None or not parts[0] or (len(parts) == 2 and not parts[1]):
            return _not_found()
        status, data = await fetch(parts[0], self.forward_headers(request))
        if isinstance(data, bytes):
            try:
                data = json.loads(data)
            except ValueError:
                return respond(500, json.dumps({"error": "invalid JSON from backend"}))
        return respond(status, json.dumps(data))

    def metrics(self) -> str:
        lines = [
            "# HELP request_result_total Results of requests",
            "# TYPE request_result_total counter",
        ]
        lines += [
            f'request_result_total{{destination_app="{app}",response_code="{code}"}} {float(count)}'
            for (app, code), count in self.results.items()
        ]
        return "\n".join(lines) + "\n"


def _not_found() -> HttpResponse:
    body = (
        "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n"
        "<p>The requested URL was not found on the server. If you entered the URL manually please check your "
        "spelling and try again.</p>\n"
    )
    return respond(404, body, HTML)


def _method_not_allowed(allow: str) -> HttpResponse:
    body = (
        "<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n"
        "<h1>Method Not Allowed</h1>\n"
        "<p>The method is not allowed for the requested URL.</p>\n"
    )
    response = respond(405, body, HTML)
    response.headers.append(("allow", allow))
    return response


# A 1x1 transparent PNG: enough for a browser or a crawler that follows the page's image links.
_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def _static_assets(era: Era) -> dict[str, tuple[str, bytes]]:
    """Tiny stand-ins for the files the era's page references (path -> content type, body)."""
    if era is Era.C:
        return {
            "/static/tailwind/tailwind.css": (
                "text/css; charset=utf-8",
                b"/* lab placeholder: tailwind */\n",
            ),
            "/static/img/izzy.png": ("image/png", _PNG),
        }
    return {
        "/static/bootstrap/css/bootstrap.min.css": ("text/css; charset=utf-8", b"/* lab placeholder */\n"),
        "/static/bootstrap/css/bootstrap-theme.min.css": (
            "text/css; charset=utf-8",
            b"/* lab placeholder */\n",
        ),
        "/static/jquery.min.js": ("application/javascript", b"/* lab placeholder */\n"),
        "/static/bootstrap/js/bootstrap.min.js": ("application/javascript", b"/* lab placeholder */\n"),
    }
