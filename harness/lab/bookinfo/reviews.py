"""reviews v1/v2/v3 (LibertyRestEndpoint.java): two reviews, with ratings from the ratings service in v2/v3.

The JSON is built by string concatenation exactly like the Java code, so its whitespace is byte-exact.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from harness.lab.bookinfo._common import JSON, access_log, respond, service_url
from harness.lab.http import HttpRequest, HttpResponse, PodContext, UpstreamError
from harness.model import Era

RATINGS_UNAVAILABLE = "Ratings service is currently unavailable"
REVIEWS = (
    ("Reviewer1", "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!"),
    (
        "Reviewer2",
        "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by "
        "Shakespeare.",
    ),
)
# Image defaults from the Dockerfile build args: (ENABLE_RATINGS, STAR_COLOR).
IMAGE_DEFAULTS = {
    "reviews-v1": ("false", "black"),
    "reviews-v2": ("true", "black"),
    "reviews-v3": ("true", "red"),
}

# What reviews forwards to ratings: productpage's list plus b3, end-user and friends.
FORWARDED = frozenset(
    {
        "x-request-id",
        "x-ot-span-context",
        "x-datadog-trace-id",
        "x-datadog-parent-id",
        "x-datadog-sampling-priority",
        "traceparent",
        "tracestate",
        "x-cloud-trace-context",
        "grpc-trace-bin",
        "sw8",
        "user-agent",
        "cookie",
        "authorization",
        "jwt",
        "end-user",
        "b3",
    }
)
_PRODUCT_PATH = re.compile(r"/reviews/([+-]?\d+)")  # JAX-RS `int` path parameter
_HEALTH = b'{"status": "Reviews is healthy"}'


def reviews_body(
    product_id: int,
    *,
    podname: str | None,
    clustername: str,
    ratings_enabled: bool,
    star_color: str,
    stars: Mapping[str, int] | None,
) -> bytes:
    """The reviews JSON. `podname` None gives the pre-1.16.4 shape; `stars` None means ratings failed."""
    result = '{"id": "' + str(product_id) + '",'
    if podname is not None:
        result += '"podname": "' + podname + '",'
        result += '"clustername": "' + clustername + '",'
    result += '"reviews": ['
    for index, (reviewer, text) in enumerate(REVIEWS):
        if index:
            result += ","
        result += '{  "reviewer": "' + reviewer + '",  "text": "' + text + '"'
        if ratings_enabled:
            count = -1 if stars is None else stars.get(reviewer, -1)
            if count != -1:
                result += ', "rating": {"stars": ' + str(count) + ', "color": "' + star_color + '"}'
            else:
                result += ', "rating": {"error": "' + RATINGS_UNAVAILABLE + '"}'
        result += "}"
    result += "]}"
    return result.encode()


def _int_ratings(payload: object) -> dict[str, int] | None:
    """`ratings.getInt(reviewer)` for each reviewer present; None when the payload has no ratings object."""
    if not isinstance(payload, dict) or not isinstance(payload.get("ratings"), dict):
        return None
    return {
        k: int(v)
        for k, v in payload["ratings"].items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


class ReviewsApp:
    """`GET /reviews/<id>` and `GET /health`."""

    def __init__(self, ctx: PodContext, app: str) -> None:
        self.ctx = ctx
        default_enabled, default_color = IMAGE_DEFAULTS[app]
        # Boolean.valueOf: only "true" (any case) is true.
        self.ratings_enabled = ctx.env.get("ENABLE_RATINGS", default_enabled).lower() == "true"
        self.star_color = ctx.env.get("STAR_COLOR", default_color)
        self.timeout_s = 10.0 if self.star_color == "black" else 2.5
        self.ratings_url = service_url(ctx.env, "ratings") + "/ratings/"
        # Images before 1.16.4 (era A) have no podname/clustername keys.
        self.podname = None if ctx.era is Era.A else ctx.name
        self.clustername = ctx.env.get("CLUSTER_NAME") or "null"

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        return access_log(self.ctx, request, await self._handle(request))

    async def _handle(self, request: HttpRequest) -> HttpResponse:
        path = request.path_only
        if request.method == "GET" and path == "/health":
            return respond(200, _HEALTH)
        match = _PRODUCT_PATH.fullmatch(path)
        if request.method != "GET" or not match:
            return respond(404, "Not Found", "text/plain")
        product_id = int(match.group(1))
        stars = await self._ratings(product_id, request.headers) if self.ratings_enabled else None
        body = reviews_body(
            product_id,
            podname=self.podname,
            clustername=self.clustername,
            ratings_enabled=self.ratings_enabled,
            star_color=self.star_color,
            stars=stars,
        )
        return respond(200, body, JSON)

    async def _ratings(self, product_id: int, incoming: Mapping[str, str]) -> dict[str, int] | None:
        headers = {k: v for k, v in incoming.items() if k in FORWARDED or k.startswith("x-b3-")}
        try:
            response = await self.ctx.upstream.request(
                "GET", f"{self.ratings_url}{product_id}", headers=headers, timeout_s=self.timeout_s
            )
        except UpstreamError:
            return None
        if response.status != 200:
            return None
        try:
            return _int_ratings(json.loads(response.body))
        except ValueError:
            return None
