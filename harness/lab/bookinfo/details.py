"""details v1 (details.rb): the book's details as JSON, whatever the product id."""

from __future__ import annotations

import json
import re

from harness.lab.bookinfo._common import access_log, last_segment, respond
from harness.lab.http import HttpRequest, HttpResponse, PodContext

_NUMERIC = re.compile(r"[+-]?\d+")  # Ruby's Integer() on a plain decimal string
_BAD_ID = json.dumps({"error": "please provide numeric product id"}, separators=(",", ":"))
_HEALTH = json.dumps({"status": "Details is healthy"}, separators=(",", ":"))


def details_body(product_id: int) -> bytes:
    """Byte-exact details.rb JSON (compact, key order as in the Ruby hash)."""
    book = {
        "id": product_id,
        "author": "William Shakespeare",
        "year": 1595,
        "type": "paperback",
        "pages": 200,
        "publisher": "PublisherA",
        "language": "English",
        "ISBN-10": "1234567890",
        "ISBN-13": "123-1234567890",
    }
    return json.dumps(book, separators=(",", ":")).encode()


class DetailsApp:
    """`GET /details/<id>` and `/health`."""

    def __init__(self, ctx: PodContext) -> None:
        self.ctx = ctx
        self._book_0 = details_body(0)

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        return access_log(self.ctx, request, self._handle(request))

    def _handle(self, request: HttpRequest) -> HttpResponse:
        path = request.path_only
        if path == "/health":
            return respond(200, _HEALTH)
        if path.startswith("/details/"):
            raw = last_segment(request)
            if not _NUMERIC.fullmatch(raw):
                return respond(400, _BAD_ID)
            product_id = int(raw)
            return respond(200, self._book_0 if product_id == 0 else details_body(product_id))
        return respond(404, "Not Found", "text/plain")
