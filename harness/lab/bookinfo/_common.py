"""Small helpers the Bookinfo apps share: responses, service addresses, id parsing and access logs."""

from __future__ import annotations

import re
from collections.abc import Mapping

from harness.lab.http import HttpRequest, HttpResponse, PodContext

JSON = "application/json"
HTML = "text/html; charset=utf-8"

_LEADING_INT = re.compile(r"\s*([+-]?\d+)")


def respond(status: int, body: bytes | str, content_type: str = JSON) -> HttpResponse:
    data = body.encode() if isinstance(body, str) else body
    return HttpResponse(status, [("content-type", content_type), ("content-length", str(len(data)))], data)


def last_segment(request: HttpRequest) -> str:
    return request.path_only.rstrip("/").rsplit("/", 1)[-1]


def js_parse_int(text: str) -> int | None:
    """JavaScript `parseInt(text)`: the leading integer, or None where JS gives NaN."""
    match = _LEADING_INT.match(text)
    return int(match.group(1)) if match else None


def service_url(env: Mapping[str, str], service: str) -> str:
    """`http://<host><.domain>:<port>` from SERVICES_DOMAIN, <SERVICE>_HOSTNAME and <SERVICE>_SERVICE_PORT."""
    upper = service.upper()
    domain = env.get("SERVICES_DOMAIN")
    host = env.get(f"{upper}_HOSTNAME") or service
    port = env.get(f"{upper}_SERVICE_PORT") or "9080"
    return f"http://{host}{'.' + domain if domain else ''}:{port}"


def access_log(ctx: PodContext, request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """One log line per request, then hand the response back."""
    request_id = request.headers.get("x-request-id", "-")
    ctx.log(
        f'{ctx.name} "{request.method} {request.path}" {response.status} {len(response.body)} {request_id}'
    )
    return response
