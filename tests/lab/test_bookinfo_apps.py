"""Specification of the lab's Bookinfo apps, checked against what the real apps rendered and returned.

The apps run without sockets: a `FakeMesh` upstream routes each call to another app's handler (or to a fault)
and keeps virtual time, so a 7 s delay or a 3 s timeout costs nothing and never flakes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from harness.classify import classify_page, classify_page_reference, classify_page_uncached
from harness.lab.bookinfo import UnsupportedImage, image_app, make_handler
from harness.lab.http import Handler, HttpRequest, HttpResponse, PodContext, UpstreamError
from harness.model import Era, PageState, Version

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "real-bookinfo"

TAGS = {Era.A: "1.16.2", Era.B: "1.19.1", Era.C: "1.20.3"}
PODS = {
    "v1": "reviews-v1-5b5d6494f4-7x9kq",
    "v2": "reviews-v2-5b667bcbf8-8pz2r",
    "v3": "reviews-v3-5b9bd44f4-q6mnd",
}


def image(app: str, era: Era = Era.B) -> str:
    return f"docker.io/istio/examples-bookinfo-{app}:{TAGS[era]}"


# --- a mesh in memory, with virtual time ------------------------------------------------------------------


@dataclass(frozen=True)
class Delay:
    """Answer after `seconds` (virtual) for requests carrying `end-user: <user>` (any request when None)."""

    seconds: float
    user: str | None = None


@dataclass(frozen=True)
class Abort:
    status: int
    user: str | None = None


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    headers: Mapping[str, str]
    timeout_s: float | None

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""


_elapsed: ContextVar[list[float] | None] = ContextVar("elapsed", default=None)


@dataclass
class FakeMesh:
    """An Upstream that routes by host name to handlers. A missing host refuses the connection."""

    routes: dict[str, Handler] = field(default_factory=dict)
    faults: dict[str, Delay | Abort] = field(default_factory=dict)
    raises: dict[str, UpstreamError] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes = b"",
        timeout_s: float | None = None,
    ) -> HttpResponse:
        call = Call(method, url, dict(headers), timeout_s)
        self.calls.append(call)
        parent = _elapsed.get()
        if call.host in self.raises:
            raise self.raises[call.host]
        handler = self.routes.get(call.host)
        if handler is None:
            raise UpstreamError("connect", f"connection refused: {call.host}")
        fault = self.faults.get(call.host)
        applies = fault is not None and fault.user in (None, headers.get("end-user"))
        if isinstance(fault, Abort) and applies:
            return HttpResponse(fault.status, [("content-type", "text/plain")], b"fault filter abort")
        frame = [fault.seconds if isinstance(fault, Delay) and applies else 0.0]
        token = _elapsed.set(frame)
        try:
            parts = urlsplit(url)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            response = await handler(HttpRequest(method, path, dict(headers), body))
        finally:
            _elapsed.reset(token)
        took = frame[0]
        if timeout_s is not None and took > timeout_s:
            took = timeout_s
            response = None
        if parent is not None:
            parent[0] += took
        if response is None:
            raise UpstreamError("timeout", f"{url}: no response within {timeout_s} s")
        return response

    def hosts(self) -> list[str]:
        return [call.host for call in self.calls]


def pod(
    app: str,
    mesh: FakeMesh,
    era: Era = Era.B,
    env: Mapping[str, str] | None = None,
    log: list[str] | None = None,
) -> PodContext:
    name = PODS[app[len("reviews-") :]] if app.startswith("reviews-") else f"{app}-v1-6f9c7d8b5-abcde"
    return PodContext(
        name=name,
        namespace="default",
        labels={"app": app.split("-")[0]},
        env=dict(env or {}),
        image=image(app if app.startswith("reviews-") else f"{app}-v1", era),
        upstream=mesh,
        log=(log.append if log is not None else lambda line: None),
        era=era,
    )


def run(
    handler: Handler, method: str, path: str, headers: Mapping[str, str] | None = None, body: bytes = b""
) -> HttpResponse:
    return asyncio.run(handler(HttpRequest(method, path, dict(headers or {}), body)))


@dataclass(frozen=True)
class Case:
    """One fixture situation: which reviews version is routed to, and what is broken."""

    reviews: str | None = "v2"  # None: reviews unreachable
    jason: bool = False
    ratings: str = "up"  # up | down | abort500 | delay7s
    details_down: bool = False
    cluster: str | None = None


CASES = {
    "v1": Case(reviews="v1"),
    "v2": Case(),
    "v3": Case(reviews="v3"),
    "v2-clustername": Case(cluster="cluster-east"),
    "v2-jason": Case(jason=True),
    "v2-ratings-down": Case(ratings="down"),
    "v3-ratings-down": Case(reviews="v3", ratings="down"),
    "v2-jason-ratings-abort500": Case(jason=True, ratings="abort500"),
    "v2-jason-ratings-delay7s": Case(jason=True, ratings="delay7s"),
    "v3-jason-ratings-delay7s": Case(reviews="v3", jason=True, ratings="delay7s"),
    "reviews-down": Case(reviews=None),
    "details-down": Case(reviews="v1", details_down=True),
}


def build(case: Case, era: Era) -> tuple[Handler, FakeMesh]:
    """productpage with the backends of `case` behind it."""
    mesh = FakeMesh()
    if not case.details_down:
        mesh.routes["details"] = make_handler(pod("details", mesh, era))
    if case.reviews is not None:
        env = {"CLUSTER_NAME": case.cluster} if case.cluster else {}
        mesh.routes["reviews"] = make_handler(pod(f"reviews-{case.reviews}", mesh, era, env))
    if case.ratings != "down":
        mesh.routes["ratings"] = make_handler(pod("ratings", mesh, era))
    if case.ratings == "abort500":
        mesh.faults["ratings"] = Abort(500, user="jason")
    elif case.ratings == "delay7s":
        mesh.faults["ratings"] = Delay(7.0, user="jason")
    return make_handler(pod("productpage", mesh, era)), mesh


def login(productpage: Handler, user: str = "jason") -> str:
    response = run(
        productpage,
        "POST",
        "/login",
        {"referer": "http://gateway/productpage", "content-type": "application/x-www-form-urlencoded"},
        f"username={user}&passwd=x".encode(),
    )
    set_cookie = response.header("set-cookie") or ""
    return set_cookie.split(";", 1)[0]


def product_page(case: Case, era: Era) -> tuple[HttpResponse, FakeMesh]:
    productpage, mesh = build(case, era)
    headers = {"cookie": login(productpage)} if case.jason else {}
    mesh.calls.clear()
    return run(productpage, "GET", "/productpage", headers), mesh


PAGE_CASES = [
    pytest.param(era, name, id=f"{TAGS[era]}-{name}")
    for era in Era
    for name in CASES
    if (FIXTURES / f"bookinfo-{TAGS[era]}-{name}.html").exists()
]


# --- productpage renders what the real productpage rendered ----------------------------------------------


def test_every_fixture_page_has_a_lab_case() -> None:
    assert len(PAGE_CASES) == len(list(FIXTURES.glob("bookinfo-*.html")))


@pytest.mark.parametrize(("era", "name"), PAGE_CASES)
def test_lab_page_classifies_like_the_real_page(era: Era, name: str) -> None:
    response, _ = product_page(CASES[name], era)
    real = (FIXTURES / f"bookinfo-{TAGS[era]}-{name}.html").read_bytes()

    assert response.status == 200
    assert response.header("content-type") == "text/html; charset=utf-8"
    assert classify_page(response.body) == classify_page(real)
    assert classify_page_reference(response.body) == classify_page_reference(real)
    assert classify_page_uncached(response.body) == classify_page_reference(response.body)


@pytest.mark.parametrize(("era", "name"), PAGE_CASES)
def test_lab_page_is_byte_identical_to_the_real_page(era: Era, name: str) -> None:
    response, _ = product_page(CASES[name], era)
    assert response.body == (FIXTURES / f"bookinfo-{TAGS[era]}-{name}.html").read_bytes()


@pytest.mark.parametrize(
    ("name", "reviews_calls", "virtual_seconds"),
    [
        pytest.param("v2-jason-ratings-delay7s", 2, 6.0, id="v2-waits-10s-so-productpage-times-out-twice"),
        pytest.param("v3-jason-ratings-delay7s", 1, 2.5, id="v3-gives-up-after-2.5s"),
    ],
)
def test_ratings_delay_timing(name: str, reviews_calls: int, virtual_seconds: float) -> None:
    productpage, mesh = build(CASES[name], Era.B)
    cookie = login(productpage)
    clock = [0.0]
    token = _elapsed.set(clock)
    try:
        response = run(productpage, "GET", "/productpage", {"cookie": cookie})
    finally:
        _elapsed.reset(token)
    assert mesh.hosts().count("reviews") == reviews_calls
    assert clock[0] == pytest.approx(virtual_seconds)
    assert response.status == 200


@pytest.mark.parametrize(
    ("failure", "expected_calls"),
    [
        pytest.param(UpstreamError("timeout", "3 s"), 2, id="timeout"),
        pytest.param(UpstreamError("connect", "refused"), 2, id="connect-error"),
    ],
)
def test_productpage_tries_reviews_twice_and_details_once(
    failure: UpstreamError, expected_calls: int
) -> None:
    productpage, mesh = build(Case(), Era.C)
    mesh.raises["reviews"] = failure
    response = run(productpage, "GET", "/productpage")
    assert mesh.hosts() == ["details"] + ["reviews"] * expected_calls
    assert all(call.timeout_s == 3.0 for call in mesh.calls)
    assert classify_page(response.body).state is PageState.REVIEWS_ERROR


def test_productpage_retries_reviews_on_a_503_and_takes_the_second_answer() -> None:
    productpage, mesh = build(Case(reviews="v3"), Era.B)
    reviews = mesh.routes["reviews"]
    answers = [HttpResponse(503, [], b"no healthy upstream")]

    async def flaky(request: HttpRequest) -> HttpResponse:
        return answers.pop() if answers else await reviews(request)

    mesh.routes["reviews"] = flaky
    outcome = classify_page(run(productpage, "GET", "/productpage").body)
    assert mesh.hosts().count("reviews") == 2
    assert (outcome.version, outcome.state) == (Version.V3, PageState.OK)


@pytest.mark.parametrize(
    ("ratings_failure", "expected_timeout"),
    [
        pytest.param("v2", 10.0, id="v2-black-waits-10s"),
        pytest.param("v3", 2.5, id="v3-red-waits-2.5s"),
    ],
)
def test_ratings_timeout_becomes_the_rating_error(ratings_failure: str, expected_timeout: float) -> None:
    mesh = FakeMesh(raises={"ratings": UpstreamError("timeout", "no answer")})
    reviews = make_handler(pod(f"reviews-{ratings_failure}", mesh))
    response = run(reviews, "GET", "/reviews/0")
    assert [call.timeout_s for call in mesh.calls] == [expected_timeout]
    assert json.loads(response.body)["reviews"][0]["rating"] == {
        "error": "Ratings service is currently unavailable"
    }


# --- backend JSON, byte for byte ---------------------------------------------------------------------------


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes().rstrip(b"\n")


def _backends(era: Era = Era.B) -> FakeMesh:
    mesh = FakeMesh()
    mesh.routes["ratings"] = make_handler(pod("ratings", mesh, era))
    return mesh


@pytest.mark.parametrize(
    ("app", "era", "env", "ratings_up", "fixture"),
    [
        pytest.param("reviews-v1", Era.B, {}, True, "backend-19083_reviews_0.json", id="v1"),
        pytest.param("reviews-v2", Era.B, {}, True, "backend-19084_reviews_0.json", id="v2"),
        pytest.param("reviews-v3", Era.C, {}, True, "backend-19085_reviews_0.json", id="v3"),
        pytest.param(
            "reviews-v2", Era.B, {}, False, "backend-19084_reviews_0-ratings-down.json", id="v2-ratings-down"
        ),
        pytest.param(
            "reviews-v2",
            Era.B,
            {"CLUSTER_NAME": "cluster-east"},
            True,
            "backend-19087_reviews_0.json",
            id="v2-clustername",
        ),
        pytest.param("reviews-v1", Era.A, {}, True, "backend-19093_reviews_0.json", id="v1-pre-1.16.4"),
        pytest.param("reviews-v2", Era.A, {}, True, "backend-19094_reviews_0.json", id="v2-pre-1.16.4"),
    ],
)
def test_reviews_json_is_byte_identical(
    app: str, era: Era, env: dict[str, str], ratings_up: bool, fixture: str
) -> None:
    mesh = _backends(era) if ratings_up else FakeMesh()
    response = run(make_handler(pod(app, mesh, era, env)), "GET", "/reviews/0")
    assert (response.status, response.header("content-type")) == (200, "application/json")
    assert response.body == _fixture(fixture)


@pytest.mark.parametrize(
    ("app", "path", "status", "body"),
    [
        pytest.param("details", "/details/0", 200, "backend-19081_details_0.json", id="details"),
        pytest.param(
            "details", "/details/abc", 400, '{"error":"please provide numeric product id"}', id="details-bad"
        ),
        pytest.param("details", "/health", 200, '{"status":"Details is healthy"}', id="details-health"),
        pytest.param("ratings", "/ratings/0", 200, "backend-19082_ratings_0.json", id="ratings"),
        pytest.param(
            "ratings", "/ratings/abc", 400, '{"error":"please provide numeric product ID"}', id="ratings-bad"
        ),
        pytest.param("ratings", "/health", 200, '{"status":"Ratings is healthy"}', id="ratings-health"),
        pytest.param("reviews-v1", "/health", 200, '{"status": "Reviews is healthy"}', id="reviews-health"),
        pytest.param("reviews-v1", "/reviews/abc", 404, None, id="reviews-bad-id-is-404"),
    ],
)
def test_backend_routes(app: str, path: str, status: int, body: str | None) -> None:
    response = run(make_handler(pod(app, FakeMesh())), "GET", path)
    assert response.status == status
    if body is not None:
        expected = _fixture(body) if body.endswith(".json") else body.encode()
        assert response.body == expected


def test_ratings_post_is_kept_in_memory_per_pod() -> None:
    ratings = make_handler(pod("ratings", FakeMesh()))
    posted = run(ratings, "POST", "/ratings/7", {"content-type": "application/json"}, b'{"Reviewer1":1}')
    assert (posted.status, posted.body) == (200, b'{"id":7,"ratings":{"Reviewer1":1}}')
    assert run(ratings, "GET", "/ratings/7").body == b'{"id":7,"ratings":{"Reviewer1":1}}'
    assert run(ratings, "GET", "/ratings/0").body == _fixture("backend-19082_ratings_0.json")
    assert run(ratings, "POST", "/ratings/7", {}, b"not json").status == 400


@pytest.mark.parametrize(
    ("app", "env", "calls_ratings", "rating"),
    [
        pytest.param("reviews-v1", {}, False, None, id="v1-never-calls-ratings"),
        pytest.param("reviews-v2", {}, True, {"stars": 5, "color": "black"}, id="v2-image-default"),
        pytest.param("reviews-v3", {}, True, {"stars": 5, "color": "red"}, id="v3-image-default"),
        pytest.param(
            "reviews-v1", {"ENABLE_RATINGS": "true"}, True, {"stars": 5, "color": "black"}, id="v1-env"
        ),
        pytest.param(
            "reviews-v2", {"STAR_COLOR": "blue"}, True, {"stars": 5, "color": "blue"}, id="v2-env-colour"
        ),
        pytest.param("reviews-v3", {"ENABLE_RATINGS": "false"}, False, None, id="v3-env-off"),
    ],
)
def test_reviews_env_and_image_defaults(
    app: str, env: dict[str, str], calls_ratings: bool, rating: dict[str, object] | None
) -> None:
    mesh = _backends()
    review = json.loads(run(make_handler(pod(app, mesh, env=env)), "GET", "/reviews/0").body)["reviews"][0]
    assert mesh.hosts() == (["ratings"] if calls_ratings else [])
    assert review.get("rating") == rating


# --- productpage routes -------------------------------------------------------------------------------------


def _http_body(fixture: str) -> bytes:
    raw = (FIXTURES / fixture).read_bytes()
    return raw.split(b"\n\n", 1)[1].rstrip(b"\n") if b"\r\n\r\n" not in raw else raw.split(b"\r\n\r\n", 1)[1]


@pytest.mark.parametrize(
    ("path", "fixture"),
    [
        pytest.param("/api/v1/products", "bookinfo-1.19.1-route_api_v1_products.txt", id="products"),
        pytest.param("/api/v1/products/0", "bookinfo-1.19.1-route_api_v1_products_0.txt", id="details"),
        pytest.param(
            "/api/v1/products/0/reviews", "bookinfo-1.19.1-route_api_v1_products_0_reviews.txt", id="reviews"
        ),
        pytest.param(
            "/api/v1/products/0/ratings", "bookinfo-1.19.1-route_api_v1_products_0_ratings.txt", id="ratings"
        ),
        pytest.param("/health", "bookinfo-1.19.1-route_health.txt", id="health"),
    ],
)
def test_productpage_routes_answer_like_the_real_app(path: str, fixture: str) -> None:
    productpage, _ = build(Case(), Era.B)
    response = run(productpage, "GET", path)
    assert (response.status, response.body) == (200, _http_body(fixture))


@pytest.mark.parametrize(
    ("case", "path", "status", "body"),
    [
        pytest.param(
            Case(reviews=None), "/api/v1/products/0/reviews", 500, "reviews", id="reviews-refused-500"
        ),
        pytest.param(
            Case(ratings="down"), "/api/v1/products/0/ratings", 500, "ratings", id="ratings-refused-500"
        ),
        pytest.param(Case(), "/api/v1/products/abc", 400, "details", id="details-bad-id-passes-400"),
        pytest.param(Case(), "/api/v1/products/abc/reviews", 404, "reviews", id="reviews-bad-id-passes-404"),
    ],
)
def test_productpage_api_errors(case: Case, path: str, status: int, body: str) -> None:
    productpage, _ = build(case, Era.C)
    response = run(productpage, "GET", path)
    assert response.status == status
    assert json.loads(response.body) == {
        "error": f"Sorry, product {body} are currently unavailable for this book."
    }


def test_login_sets_flasks_session_cookie_and_redirects_to_the_referer() -> None:
    productpage, _ = build(Case(), Era.C)
    response = run(
        productpage,
        "POST",
        "/login",
        {"referer": "http://gateway/productpage"},
        b"username=jason&passwd=secret",
    )
    assert response.status == 302
    assert response.header("location") == "http://gateway/productpage"
    cookie = response.header("set-cookie") or ""
    assert re.fullmatch(r"session=eyJ1c2VyIjoiamFzb24ifQ\.[\w-]+\.[\w-]+; HttpOnly; Path=/", cookie)
    payload = cookie.split("=", 1)[1].split(".")[0]
    assert json.loads(base64.urlsafe_b64decode(payload + "==")) == {"user": "jason"}


@pytest.mark.parametrize("fixture_tag", ["1.16.2", "1.19.1", "1.20.3"])
def test_the_real_apps_session_cookie_is_accepted(fixture_tag: str) -> None:
    # The real productpage signed these cookies; the lab's signature check must accept them.
    headers = (FIXTURES / f"bookinfo-{fixture_tag}-login-response-headers.txt").read_text()
    cookie = re.search(r"Set-Cookie: (session=[^;]+)", headers)
    assert cookie is not None
    productpage, mesh = build(Case(), Era.B)
    run(productpage, "GET", "/productpage", {"cookie": cookie.group(1)})
    assert mesh.calls[0].headers["end-user"] == "jason"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        pytest.param("GET", "/login", 405, id="get-login-405"),
        pytest.param("GET", "/nope", 404, id="unknown-404"),
        pytest.param("GET", "/static/nope.css", 404, id="unknown-static-404"),
    ],
)
def test_productpage_refusals(method: str, path: str, status: int) -> None:
    productpage, _ = build(Case(), Era.B)
    assert run(productpage, method, path).status == status


def test_logout_clears_the_session() -> None:
    productpage, _ = build(Case(), Era.B)
    cookie = login(productpage)
    response = run(productpage, "GET", "/logout", {"cookie": cookie, "referer": "http://gateway/productpage"})
    assert (response.status, response.header("location")) == (302, "http://gateway/productpage")
    assert (response.header("set-cookie") or "").startswith("session=; Expires=Thu, 01 Jan 1970")
    page = run(productpage, "GET", "/productpage")
    assert classify_page(page.body).user is None


def test_a_tampered_cookie_is_ignored() -> None:
    productpage, mesh = build(Case(), Era.B)
    cookie = login(productpage).replace("eyJ1c2VyIjoiamFzb24ifQ", "eyJ1c2VyIjoiYWRtaW4ifQ")
    run(productpage, "GET", "/productpage", {"cookie": cookie})
    assert "end-user" not in mesh.calls[0].headers


INCOMING = {
    "x-request-id": "7d6b1f52-1c8d-4f4e-9d3a-000000000001",
    "x-b3-traceid": "80f198ee56343ba864fe8b2a57d3eff7",
    "x-b3-spanid": "e457b5a2e4d86bd1",
    "x-b3-sampled": "1",
    "traceparent": "00-80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-01",
    "tracestate": "vendor=1",
    "user-agent": "bookinfo-harness",
    "authorization": "Bearer abc",
    "x-unrelated": "dropped",
}


@pytest.mark.parametrize("era", [Era.B, Era.C])
def test_headers_reach_reviews_and_ratings(era: Era) -> None:
    productpage, mesh = build(Case(reviews="v3"), era)
    cookie = login(productpage)
    run(productpage, "GET", "/productpage", {**INCOMING, "cookie": cookie})
    to_details, to_reviews, to_ratings = mesh.calls
    assert [to_details.host, to_reviews.host, to_ratings.host] == ["details", "reviews", "ratings"]
    expected = {k: v for k, v in INCOMING.items() if k != "x-unrelated"} | {
        "cookie": cookie,
        "end-user": "jason",
    }
    for call in (to_details, to_reviews, to_ratings):
        assert call.headers == expected


def test_era_a_productpage_adds_its_own_b3_span_and_forwards_no_cookie() -> None:
    productpage, mesh = build(Case(reviews="v2"), Era.A)
    cookie = login(productpage)
    run(productpage, "GET", "/productpage", {**INCOMING, "cookie": cookie})
    sent = mesh.calls[1].headers
    assert sent["x-b3-traceid"] == INCOMING["x-b3-traceid"]
    assert sent["x-b3-parentspanid"] == INCOMING["x-b3-spanid"]
    assert (
        re.fullmatch(r"[0-9a-f]{16}", sent["x-b3-spanid"]) and sent["x-b3-spanid"] != INCOMING["x-b3-spanid"]
    )
    assert (sent["end-user"], sent["x-request-id"]) == ("jason", INCOMING["x-request-id"])
    assert "cookie" not in sent and "authorization" not in sent


def test_service_addresses_follow_the_env() -> None:
    mesh = FakeMesh()
    env = {"SERVICES_DOMAIN": "bookinfo.svc.cluster.local", "REVIEWS_HOSTNAME": "reviews-canary"}
    env |= {"DETAILS_SERVICE_PORT": "9090"}
    run(make_handler(pod("productpage", mesh, env=env)), "GET", "/productpage")
    assert [call.url for call in mesh.calls] == [
        "http://details.bookinfo.svc.cluster.local:9090/details/0",
        "http://reviews-canary.bookinfo.svc.cluster.local:9080/reviews/0",
        "http://reviews-canary.bookinfo.svc.cluster.local:9080/reviews/0",
    ]


@pytest.mark.parametrize(
    ("era", "status"),
    [
        pytest.param(Era.A, 404, id="era-A-has-no-metrics"),
        pytest.param(Era.B, 200, id="B"),
        pytest.param(Era.C, 200, id="C"),
    ],
)
def test_metrics(era: Era, status: int) -> None:
    productpage, _ = build(Case(), era)
    run(productpage, "GET", "/productpage")
    response = run(productpage, "GET", "/metrics")
    assert response.status == status
    if status == 200:
        assert b'request_result_total{destination_app="reviews",response_code="200"} 1.0' in response.body


@pytest.mark.parametrize("era", list(Era))
def test_every_asset_the_page_references_is_served(era: Era) -> None:
    productpage, _ = build(Case(), era)
    page = run(productpage, "GET", "/productpage").body.decode()
    assets = set(re.findall(r"(?:src|href)=\"/?(static/[^\"]+)\"", page))
    assert assets
    for asset in assets:
        assert run(productpage, "GET", "/" + asset).status == 200, asset


@pytest.mark.parametrize("path", ["/", "/index.html"])
def test_index_page_lists_the_services(path: str) -> None:
    productpage, _ = build(Case(), Era.C)
    response = run(productpage, "GET", path)
    assert response.status == 200
    for text in (
        b"http://details:9080",
        b"http://reviews:9080",
        b"http://ratings:9080",
        b"/productpage?u=test",
    ):
        assert text in response.body
    assert classify_page(response.body).state is PageState.NOT_BOOKINFO


def test_every_request_is_logged() -> None:
    lines: list[str] = []
    productpage = make_handler(pod("productpage", FakeMesh(), log=lines))
    run(productpage, "GET", "/health", {"x-request-id": "abc"})
    run(productpage, "GET", "/nope")
    assert len(lines) == 2
    assert '"GET /health" 200' in lines[0] and "abc" in lines[0]


# --- images -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image_name", "app"),
    [
        ("docker.io/istio/examples-bookinfo-reviews-v2:1.17.0", "reviews-v2"),
        ("istio/examples-bookinfo-productpage-v1:1.16.2", "productpage"),
        ("registry.istio.io/release/examples-bookinfo-details-v1:1.20.3", "details"),
        ("docker.io/istio/examples-bookinfo-ratings-v1:1.20.3", "ratings"),
        ("examples-bookinfo-reviews-v1", "reviews-v1"),
        ("localhost:5000/istio/examples-bookinfo-reviews-v3:1.19.1@sha256:0123abcd", "reviews-v3"),
        ("docker.io/istio/examples-bookinfo-details-v2:1.20.3", None),
        ("docker.io/istio/examples-bookinfo-ratings-v-faulty:1.20.3", None),
        ("nginx:1.27", None),
    ],
    ids=lambda value: str(value),
)
def test_image_app(image_name: str, app: str | None) -> None:
    assert image_app(image_name) == app


def test_an_unsupported_image_is_refused_with_the_supported_list() -> None:
    ctx = pod("details", FakeMesh())
    ctx.image = "docker.io/library/nginx:1.27"
    with pytest.raises(
        UnsupportedImage, match=r"image docker.io/library/nginx:1.27 is not a Bookinfo image .*"
    ):
        make_handler(ctx)
    with pytest.raises(UnsupportedImage, match=r"supported: .*examples-bookinfo-reviews-v3"):
        make_handler(ctx)
