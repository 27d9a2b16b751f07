"""Traces on the lab: every hop of a request shares its trace, the lab serves Jaeger's query API, and the
exercise's trace expectation (step 14) holds."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.lab import traces as lab_traces
from harness.lab.lab import Lab, LabOptions, LabThread
from harness.paths import SCENARIOS_DIR
from harness.scenario import load_scenario
from harness.target import load_items
from harness.traces import (
    JaegerClient,
    Span,
    Trace,
    check_trace,
    new_trace_headers,
    parse_traces,
    probe_trace,
    touched_services,
)

BOOKINFO_SERVICES = {"productpage.default", "details.default", "reviews.default", "ratings.default"}


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LabThread, Lab, str]]:
    runner = LabThread(LabOptions(seed=21, state_dir=tmp_path_factory.mktemp("traces")))
    with runner as lab:
        runner.run(lab_traces.install, lab)
        assert lab.info is not None
        yield runner, lab, lab.info.metrics_url.rsplit("/", 1)[0]


def apply_scenario(runner: LabThread, lab: Lab, name: str) -> None:
    scenario = load_scenario(SCENARIOS_DIR / f"{name}.yaml")
    runner.run(lab.apply_objects, load_items(scenario.setup) + load_items(scenario.apply))
    runner.call(lab.settle())
    deadline = time.monotonic() + 10
    while not runner.run(lambda: lab.synced):
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_a_page_request_has_one_trace_with_a_span_of_every_service_it_touched(traced) -> None:  # type: ignore[no-untyped-def]
    runner, lab, admin = traced
    apply_scenario(runner, lab, "10-reviews-v3")  # reviews v3 calls ratings: all four services
    result = probe_trace(lab.info.gateway_url, admin, wait_s=5)
    assert result.ok, result.detail
    assert result.expected == {"productpage", "details", "reviews", "ratings"}
    assert set(result.spans_by_service) == BOOKINFO_SERVICES | {"istio-ingressgateway.istio-system"}
    # the gateway, then each sidecar's inbound span, and the outbound spans of the callers
    assert result.spans_by_service["productpage.default"] == 3  # server + client to details + to reviews
    assert result.spans_by_service["details.default"] == 1
    assert result.spans_by_service["reviews.default"] == 2 and result.spans_by_service["ratings.default"] == 1


def test_reviews_v1_pages_touch_no_ratings_and_mirrored_copies_are_not_traced(traced) -> None:  # type: ignore[no-untyped-def]
    runner, lab, admin = traced
    apply_scenario(runner, lab, "11-mirror-v2")  # v1 serves, v2 gets a copy of every request
    result = probe_trace(lab.info.gateway_url, admin, wait_s=5)
    runner.call(lab.mesh.drain())
    assert result.ok, result.detail
    assert result.expected == {"productpage", "details", "reviews"}
    trace = JaegerClient(admin).trace(result.trace_id)
    assert trace is not None and "ratings.default" not in trace.services()
    assert not any("-shadow" in s.operation for s in trace.spans)


def test_every_hop_continues_the_incoming_trace_from_b3_or_traceparent(traced) -> None:  # type: ignore[no-untyped-def]
    runner, lab, admin = traced
    apply_scenario(runner, lab, "10-reviews-v3")
    trace_id, headers = new_trace_headers()
    w3c_only = {"traceparent": headers["traceparent"]}
    assert httpx.get(lab.info.gateway_url + "/productpage", headers=w3c_only, timeout=10).status_code == 200
    trace = JaegerClient(admin).trace(trace_id)
    assert trace is not None and len(trace.spans) == 8
    assert {s.trace_id for s in trace.spans} == {trace_id}
    root = [s for s in trace.spans if s.service.startswith("istio-ingressgateway")]
    assert len(root) == 1 and root[0].parent_ids == (headers["x-b3-spanid"],)  # the caller's span
    assert len({s.span_id for s in trace.spans}) == 8


def test_the_admin_listener_speaks_jaegers_query_api(traced) -> None:  # type: ignore[no-untyped-def]
    runner, lab, admin = traced
    apply_scenario(runner, lab, "10-reviews-v3")
    for _ in range(3):
        assert httpx.get(lab.info.gateway_url + "/productpage", timeout=10).status_code == 200
    services = httpx.get(f"{admin}/api/services", timeout=5).json()
    assert set(services["data"]) >= BOOKINFO_SERVICES and services["errors"] is None
    found = httpx.get(
        f"{admin}/api/traces",
        params={"service": "productpage.default", "limit": 2, "lookback": "1h"},
        timeout=5,
    ).json()
    assert len(found["data"]) == 2
    trace = found["data"][0]
    assert set(trace) == {"traceID", "spans", "processes", "warnings"}
    span = trace["spans"][0]
    assert {"traceID", "spanID", "operationName", "references", "startTime", "duration", "tags"} <= set(span)
    assert trace["processes"][span["processID"]]["serviceName"] in BOOKINFO_SERVICES | {
        "istio-ingressgateway.istio-system"
    }
    assert {t["key"] for t in span["tags"]} >= {"http.status_code", "span.kind", "component"}
    ops = httpx.get(f"{admin}/api/services/reviews.default/operations", timeout=5).json()["data"]
    assert any(op.startswith("reviews") for op in ops)
    for check in parse_traces(found):
        assert check_trace(check, {"productpage", "details", "reviews", "ratings"}).ok
    missing = httpx.get(f"{admin}/api/traces", timeout=5)
    assert missing.status_code == 400 and "service" in missing.json()["errors"][0]["msg"]
    assert httpx.get(f"{admin}/api/traces/{'0' * 31}1", timeout=5).status_code == 404
    future = httpx.get(
        f"{admin}/api/traces", params={"service": "productpage.default", "start": 2**60}, timeout=5
    ).json()
    assert future["data"] == []


# -- pure ----------------------------------------------------------------------------------------------
def _span(service: str, span_id: str, trace_id: str = "a" * 32) -> Span:
    return Span(trace_id, span_id, (), service, "op", 0, 1)


def test_check_trace_names_missing_and_untouched_services() -> None:
    trace = Trace("a" * 32, (_span("productpage.default", "1"), _span("ratings.default", "2")))
    result = check_trace(trace, touched_services("v1"))
    assert not result.ok
    assert result.missing == ("details", "reviews") and result.unexpected == ("ratings",)
    assert "no span of details.default, reviews.default" in result.detail
    foreign = Trace("a" * 32, (_span("productpage.default", "1", "b" * 32),))
    assert check_trace(foreign, {"productpage"}).foreign == ("1",)
    assert touched_services("v2") == {"productpage", "details", "reviews", "ratings"}
    assert touched_services("unknown") == {"productpage", "details", "reviews"}


def test_the_span_store_is_bounded_and_drops_the_oldest_traces() -> None:
    store = lab_traces.SpanStore(max_spans=4)
    for trace in range(3):
        for hop in range(2):
            span = {"trace_id": f"{trace:032x}", "span_id": f"{trace}{hop}", "parent_id": None}
            store.add({**span, "service": "x.default", "operation": "o", "start_us": 0, "duration_us": 1})
    assert len(store) == 4 and store.trace(f"{0:032x}") == [] and len(store.trace(f"{2:032x}")) == 2
    assert lab_traces.parse_duration_us("1h30m") == 5_400_000_000
    with pytest.raises(ValueError):
        lab_traces.parse_duration_us("soon")


def test_held_spans_leave_the_garbage_collectors_lists() -> None:
    # 200,000 held spans that stayed tracked would lengthen every full collection: the lab's latency tail
    store = lab_traces.SpanStore()
    for hop in range(3):
        span = {"trace_id": "a" * 32, "span_id": f"{hop}", "parent_id": None, "service": "x.default"}
        store.add({**span, "operation": "o", "start_us": 0, "duration_us": 1, "status": 200})
    for _ in range(2):  # each collection untracks one more level: the spans, then the trace
        gc.collect()
    held = store._traces["a" * 32]
    assert len(held) == 3 and not gc.is_tracked(held) and not any(gc.is_tracked(s) for s in held)
    assert [span["span_id"] for span in store.trace("a" * 32)] == ["0", "1", "2"]


def test_install_keeps_an_existing_span_listener(tmp_path: Path) -> None:
    with LabThread(LabOptions(seed=1, state_dir=tmp_path)) as lab:
        seen: list[dict] = []
        lab.mesh.on_span = seen.append
        store = lab_traces.install(lab)
        assert lab.mesh.on_span is not None
        lab.mesh.on_span(
            {"trace_id": "1", "span_id": "2", "service": "s.default", "start_us": 0, "duration_us": 0}
        )
        assert len(seen) == 1 and len(store) == 1
