"""The lab's Jaeger: spans from every proxy hop, served in the Jaeger query API's JSON shape.

`install(lab)` sets `lab.mesh.on_span` to a bounded `SpanStore` and serves, on the admin listener:

    GET /api/services                                 {"data": ["details.default", ...]}
    GET /api/services/{service}/operations            {"data": [operation names]}
    GET /api/traces?service=productpage.default       traces that have a span of that service (newest first)
        [&operation=..][&limit=20][&lookback=1h | &start=&end= (µs)][&minDuration=..][&maxDuration=..]
    GET /api/traces?traceID=a&traceID=b               those traces
    GET /api/traces/{traceID}                         one trace, or 404

as Jaeger's query service does (/api is its unversioned HTTP API, used by its UI and by istioctl dashboard).
Mirrored copies are not sampled (Istio sets `trace_sampled=false` on mirror policies): spans of a request
whose Host ends in `-shadow`, and the spans under it, are left out of every answer.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from harness.lab.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from harness.lab.lab import Lab

MAX_SPANS = 200_000
DEFAULT_LIMIT = 20
DEFAULT_LOOKBACK_US = 3600 * 1_000_000
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(us|µs|ms|s|m|h|d)")
_UNIT_US = {"us": 1, "µs": 1, "ms": 1_000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000}
_UNIT_US["d"] = 24 * _UNIT_US["h"]

Span = dict[str, Any]  # as passed to Mesh.on_span
HeldSpan = tuple[Any, ...]  # a Span as SpanStore holds it: field, value, field, value, ...


class SpanStore:
    """Spans grouped by trace, oldest traces dropped first once more than `max_spans` are held."""

    def __init__(self, max_spans: int = MAX_SPANS) -> None:
        self.max_spans = max_spans
        # A span is held as one flat tuple (field, value, field, value, ...) and a trace as the tuple of its
        # spans: with only strings and numbers inside, the garbage collector stops tracking them (it never
        # stops tracking a list, or a tuple that holds a dict), so 200,000 held spans do not lengthen every
        # full collection; a flat tuple is also a third of a dict's size.
        self._traces: OrderedDict[str, tuple[HeldSpan, ...]] = OrderedDict()
        self._count = 0

    def add(self, span: Mapping[str, Any]) -> None:
        trace_id = str(span["trace_id"]).lower()
        held = tuple(itertools.chain.from_iterable(span.items()))
        spans = self._traces.get(trace_id)
        if spans is None:
            self._traces[trace_id] = (held,)
        else:
            self._traces[trace_id] = (*spans, held)
            self._traces.move_to_end(trace_id)
        self._count += 1
        while self._count > self.max_spans and self._traces:
            _, dropped = self._traces.popitem(last=False)
            self._count -= len(dropped)

    def __len__(self) -> int:
        return self._count

    def _spans(self, trace_id: str) -> list[Span]:
        return [dict(zip(held[::2], held[1::2], strict=True)) for held in self._traces.get(trace_id, ())]

    def trace(self, trace_id: str) -> list[Span]:
        return sampled(self._spans(_norm_id(trace_id)))

    def traces(self) -> Iterable[tuple[str, list[Span]]]:
        """(trace id, sampled spans), most recently updated first."""
        for trace_id in reversed(list(self._traces)):
            spans = sampled(self._spans(trace_id))
            if spans:
                yield trace_id, spans


def _norm_id(trace_id: str) -> str:
    """Jaeger accepts ids without leading zeros; b3 may carry 64-bit ids: match on the 128-bit hex form."""
    return trace_id.lower().rjust(32, "0") if len(trace_id) <= 32 else trace_id.lower()


def _authority(operation: str) -> str:
    return operation.split("/", 1)[0]


def sampled(spans: list[Span]) -> list[Span]:
    """Spans minus mirrored copies (Host `*-shadow`) and everything under them (pure)."""
    shadow = {
        s["span_id"]
        for s in spans
        if _authority(str(s.get("operation", ""))).split(":")[0].endswith("-shadow")
    }
    if not shadow:
        return list(spans)
    changed = True
    while changed:  # children are reported before their parents: close over the parent links
        changed = False
        for s in spans:
            if s["span_id"] not in shadow and s.get("parent_id") in shadow:
                shadow.add(s["span_id"])
                changed = True
    return [s for s in spans if s["span_id"] not in shadow]


# -- Jaeger JSON ---------------------------------------------------------------------------------------------
def _tag(key: str, value: object) -> dict[str, object]:
    if isinstance(value, bool):
        kind = "bool"
    elif isinstance(value, int):
        kind = "int64"
    else:
        kind, value = "string", str(value)
    return {"key": key, "type": kind, "value": value}


def jaeger_trace(trace_id: str, spans: list[Span]) -> dict[str, Any]:
    """One trace in the shape of Jaeger's `structuredTrace` (pure)."""
    processes: dict[str, dict[str, Any]] = {}
    process_ids: dict[str, str] = {}
    ids = {s["span_id"] for s in spans}
    out = []
    for span in sorted(spans, key=lambda s: (s["start_us"], s["span_id"])):
        service = str(span["service"])
        pid = process_ids.get(service)
        if pid is None:
            pid = process_ids[service] = f"p{len(process_ids) + 1}"
            name, _, namespace = service.partition(".")
            processes[pid] = {
                "serviceName": service,
                "tags": [_tag("istio.canonical_service", name), _tag("istio.namespace", namespace)],
            }
        status = int(span.get("status") or 0)
        tags = [
            _tag("component", "proxy"),
            _tag("span.kind", span.get("kind", "server")),
            _tag("http.status_code", status),
            _tag("upstream_cluster", span.get("operation", "")),
            _tag("internal.span.format", "zipkin"),
        ]
        if status == 0 or status >= 500:
            tags.append(_tag("error", True))
        parent = span.get("parent_id")
        references = []
        warnings = None
        if parent:
            references.append({"refType": "CHILD_OF", "traceID": trace_id, "spanID": parent})
            if parent not in ids:
                warnings = [f"invalid parent span IDs={parent}; skipping clock skew adjustment"]
        out.append(
            {
                "traceID": trace_id,
                "spanID": span["span_id"],
                "operationName": span.get("operation", ""),
                "references": references,
                "startTime": int(span["start_us"]),
                "duration": int(span["duration_us"]),
                "tags": tags,
                "logs": [],
                "processID": pid,
                "warnings": warnings,
                "flags": 1,
            }
        )
    return {"traceID": trace_id, "spans": out, "processes": processes, "warnings": None}


def _envelope(data: object, *, status: int = 200, error: str | None = None) -> HttpResponse:
    total = len(data) if isinstance(data, list) else 0
    body: dict[str, Any] = {"data": data, "total": total, "limit": 0, "offset": 0, "errors": None}
    if error is not None:
        body["errors"] = [{"code": status, "msg": error}]
    return HttpResponse(status, [("content-type", "application/json")], json.dumps(body).encode())


def parse_duration_us(text: str) -> int:
    """Go duration strings as Jaeger takes them ("1h", "500ms", "2d") in microseconds (pure)."""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"invalid duration {text!r}")
    return int(sum(float(n) * _UNIT_US[u] for n, u in parts))


def search(store: SpanStore, params: Mapping[str, list[str]], now_us: int) -> list[dict[str, Any]]:
    """Jaeger's /api/traces search over the store (raises ValueError for a bad parameter)."""
    one = {k: v[0] for k, v in params.items() if v}
    if "traceID" in params:
        found = []
        for trace_id in params["traceID"]:
            spans = store.trace(trace_id)
            if spans:
                found.append(jaeger_trace(spans[0]["trace_id"], spans))
        return found
    service = one.get("service")
    if not service:
        raise ValueError("parameter 'service' is required")
    operation = one.get("operation")
    limit = int(one.get("limit") or DEFAULT_LIMIT)
    end = int(one["end"]) if one.get("end") else now_us
    if one.get("start"):
        start = int(one["start"])
    else:
        lookback = one.get("lookback")
        start = end - (
            parse_duration_us(lookback) if lookback and lookback != "custom" else DEFAULT_LOOKBACK_US
        )
    min_d = parse_duration_us(one["minDuration"]) if one.get("minDuration") else None
    max_d = parse_duration_us(one["maxDuration"]) if one.get("maxDuration") else None
    out: list[dict[str, Any]] = []
    for trace_id, spans in store.traces():
        if limit > 0 and len(out) >= limit:
            break
        for span in spans:
            if span["service"] != service or (operation and span.get("operation") != operation):
                continue
            if not start <= span["start_us"] <= end:
                continue
            if (min_d is not None and span["duration_us"] < min_d) or (
                max_d is not None and span["duration_us"] > max_d
            ):
                continue
            out.append(jaeger_trace(trace_id, spans))
            break
    return out


def handler(store: SpanStore, clock: Callable[[], float] = time.time) -> Callable[[HttpRequest], Any]:
    """The admin-listener handler for /api/traces and /api/services."""

    async def handle(request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return _envelope(None, status=405, error="method not allowed")
        path = request.path_only.rstrip("/")
        params = parse_qs(request.query, keep_blank_values=False)
        if path == "/api/services":
            return _envelope(sorted({s["service"] for _, spans in store.traces() for s in spans}))
        match = re.fullmatch(r"/api/services/([^/]+)/operations", path)
        if match:
            service = unquote(match.group(1))
            names = {
                s.get("operation", "")
                for _, spans in store.traces()
                for s in spans
                if s["service"] == service
            }
            return _envelope(sorted(names))
        match = re.fullmatch(r"/api/traces/([0-9a-fA-F]{1,32})", path)
        if match:
            spans = store.trace(match.group(1))
            if not spans:
                return _envelope(None, status=404, error="trace not found")
            return _envelope([jaeger_trace(spans[0]["trace_id"], spans)])
        if path == "/api/traces":
            try:
                return _envelope(search(store, params, int(clock() * 1_000_000)))
            except ValueError as exc:
                return _envelope(None, status=400, error=str(exc))
        return _envelope(None, status=404, error="not found")

    return handle


def install(lab: Lab, *, max_spans: int = MAX_SPANS) -> SpanStore:
    """Record the lab's spans and serve them at /api/traces and /api/services on its admin listener."""
    store = SpanStore(max_spans)
    previous = lab.mesh.on_span

    if previous is None:
        lab.mesh.on_span = store.add
    else:

        def both(span: dict[str, Any]) -> None:
            store.add(span)
            previous(span)

        lab.mesh.on_span = both
    serve = handler(store)
    lab.add_admin_route("/api/traces", serve)
    lab.add_admin_route("/api/services", serve)
    return store
