"""The exercise's trace check against a cluster's Jaeger (`--target cluster --jaeger-url URL`)."""

from __future__ import annotations

import pytest

from harness.traces import JaegerClient, probe_trace


@pytest.fixture
def jaeger_url(request: pytest.FixtureRequest) -> str:
    url = request.config.getoption("--jaeger-url", default=None)
    if request.config.getoption("--target") != "cluster" or not url:
        pytest.skip(
            "a cluster's Jaeger: run with --target cluster --jaeger-url URL (the lab: test_traces_lab)"
        )
    return str(url)


def test_a_page_trace_has_a_span_of_every_service_it_touched(jaeger_url: str, bookinfo_target) -> None:  # type: ignore[no-untyped-def]
    namespace = bookinfo_target.namespace
    result = probe_trace(bookinfo_target.gateway_url, jaeger_url, namespace=namespace, wait_s=60, poll_s=1)
    assert result.ok, result.detail
    assert f"productpage.{namespace}" in JaegerClient(jaeger_url).services()
