"""ratings v1 (ratings.js): per-product ratings, with POSTed ratings kept in memory."""

from __future__ import annotations

import json
from typing import Any

from harness.lab.bookinfo._common import access_log, js_parse_int, last_segment, respond
from harness.lab.http import HttpRequest, HttpResponse, PodContext

_BAD_ID = json.dumps({"error": "please provide numeric product ID"}, separators=(",", ":"))
_BAD_JSON = json.dumps({"error": "please provide valid ratings JSON"}, separators=(",", ":"))
_HEALTH = json.dumps({"status": "Ratings is healthy"}, separators=(",", ":"))
DEFAULT_RATINGS = {"Reviewer1": 5, "Reviewer2": 4}


def ratings_body(product_id: int, ratings: Any = None) -> bytes:
    """`JSON.stringify({id, ratings})`: compact, id first."""
    body = {"id": product_id, "ratings": DEFAULT_RATINGS if ratings is None else ratings}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


class RatingsApp:
    """`GET|POST /ratings/<id>` and `GET /health`."""

    def __init__(self, ctx: PodContext) -> None:
        self.ctx = ctx
        self.added: dict[int, Any] = {}  # userAddedRatings

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        return access_log(self.ctx, request, self._handle(request))

    def _handle(self, request: HttpRequest) -> HttpResponse:
        path = request.path_only
        if request.method == "GET" and path == "/health":
            return respond(200, _HEALTH)
        # httpdispatcher matches /^\/ratings\/[0-9]*/, so "/ratings/abc" reaches the handler and gets a 400.
        if path.startswith("/ratings/") and request.method in ("GET", "POST"):
            product_id = js_parse_int(last_segment(request))
            if product_id is None:
                return respond(400, _BAD_ID)
            if request.method == "POST":
                try:
                    self.added[product_id] = json.loads(request.body)
                except ValueError:
                    return respond(400, _BAD_JSON)
            return respond(200, ratings_body(product_id, self.added.get(product_id)))
        return respond(404, "Not Found", "text/plain")
