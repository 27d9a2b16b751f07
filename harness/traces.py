"""The exercise's trace check (step 14): a productpage request's trace has spans of every Bookinfo service the
request touched, and of no other Bookinfo service.

Pure part: parse Jaeger query API JSON into `Trace`s, say which services a page touched (`touched_services`)
and compare (`check_trace`). Shell part: `JaegerClient` (the lab's admin URL, or a cluster's Jaeger given with
`--jaeger-url`; Istio's addon serves it under /jaeger, so pass e.g. http://127.0.0.1:16686/jaeger) and
`probe_trace`, which sends one page request with its own b3 + traceparent trace id and checks that trace.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from harness.classify import classify_response
from harness.errors import TargetError

BOOKINFO = ("productpage", "details", "reviews", "ratings")


@dataclass(frozen=True)
class Span:
    trace_id: str
    span_id: str
    parent_ids: tuple[str, ...]
    service: str  # Jaeger serviceName, "reviews.default"
    operation: str
    start_us: int
    duration_us: int
    tags: Mapping[str, object] = field(default_factory=dict)

    @property
    def app(self) -> str:
        return self.service.split(".", 1)[0]

    @property
    def namespace(self) -> str:
        return self.service.partition(".")[2]


@dataclass(frozen=True)
class Trace:
    trace_id: str
    spans: tuple[Span, ...]

    def services(self) -> Counter[str]:
        return Counter(s.service for s in self.spans)


def parse_traces(document: Mapping[str, Any]) -> list[Trace]:
    """Traces from a Jaeger /api/traces answer ({"data": [trace, ...]}) (pure)."""
    out = []
    for trace in document.get("data") or []:
        processes = trace.get("processes") or {}
        spans = []
        for span in trace.get("spans") or []:
            process = processes.get(span.get("processID"), span.get("process") or {})
            spans.append(
                Span(
                    trace_id=str(span.get("traceID", trace.get("traceID", ""))),
                    span_id=str(span.get("spanID", "")),
                    parent_ids=tuple(
                        str(r.get("spanID"))
                        for r in span.get("references") or []
                        if r.get("refType") == "CHILD_OF"
                    ),
                    service=str(process.get("serviceName", "")),
                    operation=str(span.get("operationName", "")),
                    start_us=int(span.get("startTime", 0)),
                    duration_us=int(span.get("duration", 0)),
                    tags={t.get("key"): t.get("value") for t in span.get("tags") or []},
                )
            )
        out.append(Trace(str(trace.get("traceID", "")), tuple(spans)))
    return out


def touched_services(reviews_version: str | None) -> frozenset[str]:
    """Bookinfo services one /productpage request reaches: ratings only through reviews v2 or v3 (pure)."""
    services = {"productpage", "details", "reviews"}
    if reviews_version in ("v2", "v3", "v2-or-v3"):
        services.add("ratings")
    return frozenset(services)


@dataclass(frozen=True)
class TraceCheck:
    ok: bool
    trace_id: str
    expected: frozenset[str]
    spans_by_service: Mapping[str, int]
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    foreign: tuple[str, ...]  # span ids whose trace id differs from the trace's
    detail: str

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "trace_id": self.trace_id,
            "expected": sorted(self.expected),
            "spans_by_service": dict(self.spans_by_service),
            "missing": list(self.missing),
            "unexpected": list(self.unexpected),
            "detail": self.detail,
        }


def check_trace(trace: Trace, expected: Iterable[str], *, namespace: str = "default") -> TraceCheck:
    """At least one span of each expected Bookinfo service (`app.namespace`), none of the others (pure)."""
    want = frozenset(expected)
    counts = trace.services()
    apps = {s.app for s in trace.spans if s.namespace == namespace and s.app in BOOKINFO}
    missing = tuple(sorted(want - apps))
    unexpected = tuple(sorted(apps - want))
    foreign = tuple(s.span_id for s in trace.spans if s.trace_id.lstrip("0") != trace.trace_id.lstrip("0"))
    ok = not missing and not unexpected and not foreign and bool(trace.spans)
    parts = [f"{len(trace.spans)} spans: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))]
    if missing:
        parts.append("no span of " + ", ".join(f"{m}.{namespace}" for m in missing))
    if unexpected:
        parts.append("spans of services the request did not touch: " + ", ".join(unexpected))
    if foreign:
        parts.append(f"{len(foreign)} spans carry another trace id")
    return TraceCheck(ok, trace.trace_id, want, dict(counts), missing, unexpected, foreign, "; ".join(parts))


# -- shell ---------------------------------------------------------------------------------------------
class JaegerClient:
    """Jaeger's query HTTP API (/api/services, /api/traces) at `url`."""

    def __init__(self, url: str, *, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def _get(self, path: str, params: Mapping[str, str | int] | None = None) -> dict[str, Any]:
        try:
            response = httpx.get(f"{self.url}{path}", params=params, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise TargetError(f"Jaeger at {self.url} unavailable: {exc}") from None
        if response.status_code == 404 and path.startswith("/api/traces/"):
            return {"data": []}
        try:
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise TargetError(f"Jaeger at {self.url}{path}: {exc}") from None

    def services(self) -> list[str]:
        return list(self._get("/api/services").get("data") or [])

    def traces(self, service: str, *, limit: int = 20, lookback: str = "1h") -> list[Trace]:
        return parse_traces(
            self._get("/api/traces", {"service": service, "limit": limit, "lookback": lookback})
        )

    def trace(self, trace_id: str) -> Trace | None:
        found = parse_traces(self._get(f"/api/traces/{trace_id}"))
        return found[0] if found else None


def new_trace_headers() -> tuple[str, dict[str, str]]:
    """A fresh sampled trace id and the b3 + W3C headers that start it at the gateway."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, {
        "x-b3-traceid": trace_id,
        "x-b3-spanid": span_id,
        "x-b3-sampled": "1",
        "traceparent": f"00-{trace_id}-{span_id}-01",
    }


def probe_trace(
    gateway_url: str,
    jaeger_url: str,
    *,
    path: str = "/productpage",
    namespace: str = "default",
    wait_s: float = 30.0,
    poll_s: float = 0.2,
) -> TraceCheck:
    """Send one page request in a new trace, then check that trace in Jaeger (collectors batch: poll)."""
    trace_id, headers = new_trace_headers()
    try:
        page = httpx.get(gateway_url.rstrip("/") + path, headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        raise TargetError(f"gateway {gateway_url} unreachable: {exc}") from None
    outcome = classify_response(page.status_code, page.content, page.headers.get("content-type"))
    expected = touched_services(outcome.version.value)
    client = JaegerClient(jaeger_url)
    deadline = time.monotonic() + wait_s
    result: TraceCheck | None = None
    while True:
        trace = client.trace(trace_id)
        if trace is not None:
            result = check_trace(trace, expected, namespace=namespace)
            if result.ok:
                return result
        if time.monotonic() >= deadline:
            break
        time.sleep(poll_s)
    if result is not None:
        return result
    return TraceCheck(
        False,
        trace_id,
        expected,
        {},
        tuple(sorted(expected)),
        (),
        (),
        f"trace {trace_id} not found in Jaeger",
    )
