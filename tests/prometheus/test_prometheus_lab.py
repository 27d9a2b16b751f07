"""A real Prometheus scraping the lab: PromQL counts agree with the pages the driver saw, the exercise's two
queries return Istio's series, and the runner's mirror accounting works through Prometheus."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from harness.drivers.aio import DriveConfig, drive
from harness.journal import Journal
from harness.lab import prometheus
from harness.lab.lab import Lab, LabOptions, LabThread
from harness.lab.mesh._telemetry import LABEL_NAMES
from harness.metrics import LabMetrics, PrometheusMetrics, mirror_count
from harness.model import Observation
from harness.paths import SCENARIOS_DIR
from harness.runner import Runner, RunOptions
from harness.scenario import Scenario, load_scenario
from harness.target import lab_target, load_items
from harness.verdict import Status

pytestmark = pytest.mark.skipif(
    prometheus.find_binary() is None,
    reason="the prometheus binary is not installed (Debian package `prometheus`; .ci/run installs it)",
)

EXERCISE_QUERY = 'istio_requests_total{destination_service_namespace="default", reporter="destination"}'
EXERCISE_QUERY_REVIEWS = (
    'istio_requests_total{destination_service_namespace="default", reporter="destination", '
    'destination_service_name="reviews"}'
)


def apply_scenario(runner: LabThread, lab: Lab, name: str) -> Scenario:
    scenario = load_scenario(SCENARIOS_DIR / f"{name}.yaml")
    runner.run(lab.apply_objects, load_items(scenario.setup) + load_items(scenario.apply))
    runner.call(lab.settle())
    deadline = time.monotonic() + 10
    while not runner.run(lambda: lab.synced):
        assert time.monotonic() < deadline, "the lab mesh did not sync"
        time.sleep(0.02)
    return scenario


def drive_pages(runner: LabThread, lab: Lab, pages: int) -> Counter[str]:
    """Drive `pages` productpage requests; reviews version per page, mirrored copies landed."""
    seen: Counter[str] = Counter()

    def on_observation(observation: Observation) -> bool:
        seen[observation.outcome.version.value] += 1
        return False

    assert lab.info is not None
    config = DriveConfig(base_url=lab.info.gateway_url, max_requests=pages, concurrency=8)
    summary = asyncio.run(drive(config, on_observation))
    assert summary.observed == pages and summary.transport_errors == 0
    runner.call(lab.mesh.drain())
    return seen


def test_the_50_50_split_in_promql_equals_the_page_counts(prom_lab) -> None:  # type: ignore[no-untyped-def]
    runner, lab, prom = prom_lab
    apply_scenario(runner, lab, "09-reviews-50-50")
    drive_pages(runner, lab, 50)  # series for every version exist before the window opens
    start = prom.mark()
    pages = drive_pages(runner, lab, 400)
    window = prom.window(start)

    split = prom.split(window, service="reviews", source_workload="productpage-v1")
    assert split == {"v1": pages["v1"], "v3": pages["v3"]}
    assert sum(split.values()) == 400 and 120 < split["v3"] < 280
    # the destination sidecars agree with the source's view
    assert prom.split(window, service="reviews", reporter="destination") == split
    # what a dashboard's `sum by (destination_version) (increase(...))` shows: Prometheus's estimate
    estimate = prom.increase(
        window,
        ("destination_version",),
        reporter="source",
        source_workload="productpage-v1",
        destination_service_name="reviews",
    )
    by_version = {dict(k)["destination_version"]: v for k, v in estimate.items()}
    for version, count in split.items():
        assert by_version[version] == pytest.approx(count, rel=0.05)


def test_the_mirrored_share_in_promql_equals_the_page_counts(prom_lab) -> None:  # type: ignore[no-untyped-def]
    runner, lab, prom = prom_lab
    apply_scenario(runner, lab, "11-mirror-v2")
    drive_pages(runner, lab, 20)
    assert lab.info is not None
    lab_before = LabMetrics(lab.info.metrics_url).snapshot()
    prom_before = prom.snapshot()
    start = prom.mark()
    pages = drive_pages(runner, lab, 300)
    window = prom.window(start)

    assert pages == {"v1": 300}  # pages never come from the mirror target
    count = prom.mirror_count(window, service="reviews", mirror_workload="reviews-v2")
    assert (count.routed, count.mirrored) == (300, 300)
    # the snapshot path the runner uses gives the same numbers through Prometheus and from /metrics
    by_snapshots = mirror_count(prom_before, prom.snapshot(), service="reviews", mirror_workload="reviews-v2")
    by_lab = mirror_count(
        lab_before,
        LabMetrics(lab.info.metrics_url).snapshot(),
        service="reviews",
        mirror_workload="reviews-v2",
    )
    assert by_snapshots == by_lab == count


def test_the_runner_accounts_mirrors_through_prometheus(prom_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, lab, prom = prom_lab
    target = lab_target(lab.info)
    target.metrics = prom
    journal = Journal.open_new(tmp_path / "journal.json", target.name)
    try:
        result = asyncio.run(
            Runner(target, journal, RunOptions()).run(load_scenario(SCENARIOS_DIR / "11-mirror-v2.yaml"))
        )
    finally:
        target.kube.close()
    assert result.mirror is not None, result.error
    assert result.status is Status.PASS, result.to_json()
    counts = result.mirror.to_json()["counts"]
    probe_pages = result.probes[0].requests
    routed = counts["mirrored"] + counts.get("not-mirrored", 0)
    # the runner's window opens before its convergence gate, so routed also counts the gate's pages
    assert routed >= probe_pages and counts["mirrored"] == routed


def test_the_exercise_queries_return_istio_series(prom_lab) -> None:  # type: ignore[no-untyped-def]
    runner, lab, prom = prom_lab
    apply_scenario(runner, lab, "06-canary-v2-v3")  # step 8: no reviews VirtualService, all three versions
    drive_pages(runner, lab, 60)
    prom.mark()
    series = prom.query(EXERCISE_QUERY)
    workloads = {dict(labels)["destination_workload"] for labels, _, _ in series}
    assert {
        "productpage-v1",
        "details-v1",
        "reviews-v1",
        "reviews-v2",
        "reviews-v3",
        "ratings-v1",
    } <= workloads
    for labels, value, _ in series:
        names = dict(labels)
        # Prometheus drops empty labels (grpc_response_status="" on HTTP), as it does on a cluster
        assert (set(LABEL_NAMES) - {"grpc_response_status"}) | {"instance", "job"} == set(names)
        assert (names["reporter"], names["destination_service_namespace"]) == ("destination", "default")
        assert names["connection_security_policy"] == "mutual_tls" and value >= 1
    reviews = prom.query(EXERCISE_QUERY_REVIEWS)
    assert reviews and {dict(labels)["destination_service_name"] for labels, _, _ in reviews} == {"reviews"}
    assert {dict(labels)["destination_version"] for labels, _, _ in reviews} == {"v1", "v2", "v3"}
    # the same through the raw HTTP API, as the Prometheus UI or curl would send it
    raw = httpx.get(f"{prom.url}/api/v1/query", params={"query": EXERCISE_QUERY_REVIEWS}, timeout=10).json()
    assert raw["status"] == "success" and raw["data"]["resultType"] == "vector"
    assert len(raw["data"]["result"]) == len(reviews)


def test_prometheus_stops_with_the_lab_and_leaves_nothing_behind(tmp_path: Path) -> None:
    runner = LabThread(LabOptions(seed=3, state_dir=tmp_path / "lab"))
    with runner as lab:
        server = runner.call(prometheus.start(lab, scrape_interval_s=0.5), timeout=60)
        assert 'scrape_interval: "500ms"' in (server.workdir / "prometheus.yml").read_text()
        assert server.url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{server.url}/-/ready", timeout=5).status_code == 200
        empty = PrometheusMetrics(server.url, scrape_wait_s=10)
        assert empty.snapshot() == {}  # nothing served yet: a scrape shows no series
    assert server.process.returncode is not None
    assert not server.workdir.exists()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{server.url}/-/ready", timeout=2)
