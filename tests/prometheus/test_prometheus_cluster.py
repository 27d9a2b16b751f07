"""The same PromQL source against a cluster's Prometheus (`--target cluster --prometheus-url URL`)."""

from __future__ import annotations

import asyncio

import pytest

from harness.drivers.aio import DriveConfig, drive
from harness.metrics import PrometheusMetrics


@pytest.fixture
def cluster_prometheus(request: pytest.FixtureRequest) -> PrometheusMetrics:
    opt = request.config.getoption
    if opt("--target") != "cluster" or not opt("--prometheus-url"):
        pytest.skip("a cluster's Prometheus: run with --target cluster --prometheus-url URL")
    return PrometheusMetrics(opt("--prometheus-url"))


def test_the_exercise_queries_and_page_counts_on_the_cluster(cluster_prometheus, bookinfo_target) -> None:  # type: ignore[no-untyped-def]
    prom = cluster_prometheus
    namespace = bookinfo_target.namespace
    start = prom.mark()
    summary = asyncio.run(
        drive(
            DriveConfig(base_url=bookinfo_target.gateway_url, max_requests=60, concurrency=2), lambda o: False
        )
    )
    window = prom.window(start)
    ok_pages = summary.status_counts.get(200, 0)
    served = prom.count(
        window,
        reporter="destination",
        destination_service_name="productpage",
        destination_service_namespace=namespace,
    )
    assert served >= ok_pages > 0  # other clients may add requests, never remove them
    series = prom.query(
        f'istio_requests_total{{destination_service_namespace="{namespace}", reporter="destination"}}'
    )
    assert {dict(labels).get("destination_service_name") for labels, _, _ in series} >= {
        "productpage",
        "reviews",
    }
    reviews = prom.query(
        f'istio_requests_total{{destination_service_namespace="{namespace}", reporter="destination", '
        'destination_service_name="reviews"}'
    )
    assert reviews and all(dict(labels)["destination_service_name"] == "reviews" for labels, _, _ in reviews)
