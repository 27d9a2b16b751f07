"""The live mesh view (/ui): edges, rates, mirrors and sidecar state from the lab's own counters and pods,
then the page in a real headless Chromium while load runs (screenshots to artifacts/ui/ and docs/)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from ui_support import chromium as run_chromium
from ui_support import needs_chromium, publish, screenshot, text

import harness.lab.ui as ui
from harness.lab.injection import inject_objects
from harness.lab.lab import Lab, LabOptions, LabThread
from harness.lab.mesh._telemetry import LABEL_NAMES
from harness.manifests import load_manifest_file
from harness.paths import MANIFESTS_DIR as M


def series(reporter: str, src: str, dst: str, service: str, code: str = "200", flags: str = "-"):  # type: ignore[no-untyped-def]
    values = dict.fromkeys(LABEL_NAMES, "unknown")
    values.update(
        reporter=reporter,
        source_workload=src,
        destination_workload=dst,
        destination_service_name=service,
        response_code=code,
        response_flags=flags,
    )
    return tuple((name, values[name]) for name in LABEL_NAMES)


def pod(name: str, workload: str, *, sidecar: bool = True, ready: bool = True, app: str = "") -> dict:
    containers = [{"name": app or workload.rsplit("-", 1)[0]}] + (
        [{"name": "istio-proxy"}] if sidecar else []
    )
    return {
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": {
                "app": app or workload.rsplit("-", 1)[0],
                "version": workload.rsplit("-", 1)[-1],
                "lab.bookinfo-harness.io/deployment": workload,
            },
        },
        "spec": {"containers": containers},
        "status": {
            "phase": "Running" if ready else "Pending",
            "containerStatuses": [{"name": c["name"], "ready": ready} for c in containers],
        },
    }


COUNTERS = {
    series("source", "istio-ingressgateway", "productpage-v1", "productpage"): 100.0,
    series("destination", "istio-ingressgateway", "productpage-v1", "productpage"): 100.0,
    series("source", "productpage-v1", "reviews-v1", "reviews"): 48.0,
    series("destination", "productpage-v1", "reviews-v1", "reviews"): 48.0,
    series("source", "productpage-v1", "reviews-v3", "reviews"): 50.0,
    series("source", "productpage-v1", "reviews-v3", "reviews", "503"): 2.0,
    series("destination", "productpage-v1", "reviews-v3", "reviews"): 50.0,
    series("destination", "productpage-v1", "reviews-v3", "reviews", "503"): 2.0,
    # reviews-v2 gets only mirrored copies: its sidecar reports them, productpage's never does
    series("destination", "productpage-v1", "reviews-v2", "reviews"): 48.0,
    # details has no sidecar: only the caller reports, with the destination workload unknown
    series("source", "productpage-v1", "unknown", "details"): 100.0,
    # ratings-v1 called by a client outside the mesh: only the destination reports, source unknown
    series("destination", "unknown", "ratings-v1", "ratings"): 7.0,
    # a route to a subset without pods: Envoy answers 503 UH itself
    series("source", "reviews-v3", "unknown", "ratings", "503", "UH"): 5.0,
}


def test_edges_come_from_the_reporting_proxy_and_mirrors_are_the_unreported_difference() -> None:
    edges = ui.edge_counts(COUNTERS)
    assert edges[("istio-ingressgateway", "productpage-v1", "primary")].requests == 100
    assert ("istio-ingressgateway", "productpage-v1", "mirror") not in edges
    v3 = edges[("productpage-v1", "reviews-v3", "primary")]
    assert (v3.requests, v3.errors) == (52, 2)
    assert edges[("productpage-v1", "reviews-v2", "mirror")].requests == 48
    assert ("productpage-v1", "reviews-v2", "primary") not in edges
    assert edges[("productpage-v1", "details (no sidecar)", "primary")].requests == 100
    assert edges[("unknown", "ratings-v1", "primary")].requests == 7
    assert edges[("reviews-v3", "ratings (no endpoint)", "primary")].errors == 5


def test_a_few_requests_in_flight_are_not_drawn_as_a_mirror() -> None:
    counters = {
        series("source", "productpage-v1", "reviews-v1", "reviews"): 100.0,
        series("destination", "productpage-v1", "reviews-v1", "reviews"): 102.0,  # 2 reported at one end only
    }
    assert set(ui.edge_counts(counters)) == {("productpage-v1", "reviews-v1", "primary")}


def test_graph_rates_splits_and_sidecar_state() -> None:
    pods = [
        ui.pod_state(pod("productpage-v1-abc-1", "productpage-v1")),
        ui.pod_state(pod("reviews-v1-abc-1", "reviews-v1")),
        ui.pod_state(pod("reviews-v2-abc-1", "reviews-v2")),
        ui.pod_state(pod("reviews-v3-abc-1", "reviews-v3", ready=False)),
        ui.pod_state(pod("details-v1-abc-1", "details-v1", sidecar=False)),
    ]
    now = ui.edge_counts(COUNTERS)
    before = {k: ui.EdgeCount(v.requests / 2, v.errors / 2, 0, v.service) for k, v in now.items()}
    graph = ui.build_graph(now, before, 5.0, pods)
    edges = {(e["source"], e["destination"], e["kind"]): e for e in graph["edges"]}
    gateway = edges[("istio-ingressgateway", "productpage-v1", "primary")]
    assert gateway["rps"] == pytest.approx(10.0)  # 50 requests over 5 s
    v3 = edges[("productpage-v1", "reviews-v3", "primary")]
    assert v3["error_rate"] == pytest.approx(1 / 26, abs=1e-4)
    split = graph["splits"]["reviews"]
    assert split["total"] == pytest.approx({"reviews-v1": 0.48, "reviews-v3": 0.52})
    assert v3["share"] == pytest.approx(0.52)
    assert edges[("productpage-v1", "reviews-v2", "mirror")]["share"] is None  # copies are not in the split
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert nodes["details-v1"]["sidecar"] == "none"
    assert nodes["reviews-v3"]["ready"] == "0/1"
    assert nodes["istio-ingressgateway"]["x"] < nodes["productpage-v1"]["x"] < nodes["reviews-v1"]["x"]
    assert nodes["reviews-v1"]["x"] < nodes["ratings (no endpoint)"]["x"]
    svg = ui.render_svg(graph)
    assert 'data-kind="mirror"' in svg and "mirror · " in svg
    assert "productpage-v1 to reviews-v3" in svg  # the text alternative
    assert 'class="node sidecar-none"' in svg
    page = ui.render_page(graph, prefix="/ui", title="t", info="i", synced=True)
    assert "<script>" in page and "http://" not in page.replace("http://127", "")


def test_rates_use_the_newest_snapshot_at_least_the_window_old() -> None:
    counts = {series("source", "istio-ingressgateway", "productpage-v1", "productpage"): 0.0}
    key = next(iter(counts))
    fake = SimpleNamespace(
        telemetry=SimpleNamespace(counters=lambda: dict(counts)),
        store=SimpleNamespace(list=lambda kind: []),
        info=None,
        synced=True,
    )
    view = ui.MeshView(fake, window_s=5.0)  # type: ignore[arg-type]
    clock = [100.0]
    view.clock = lambda: clock[0]

    def rps() -> float:
        edges = view.graph()["edges"]
        return edges[0]["rps"] if edges else 0.0

    assert rps() == 0.0  # first look: no history
    for second in range(1, 11):
        clock[0] = 100.0 + second
        counts[key] = 20.0 * second  # 20 requests per second
        assert rps() == pytest.approx(20.0)
    counts[key] += 0.0
    clock[0] += 5.0  # traffic stopped 5 s ago
    assert rps() == 0.0


@pytest.fixture
def lab_with_bookinfo() -> Iterator[tuple[LabThread, Lab, str]]:
    runner = LabThread(LabOptions(seed=11))
    with runner as lab:
        runner.run(ui.install, lab)
        runner.run(
            lab.apply_files,
            [
                M / "bookinfo-gateway.yaml",
                M / "destination-rule-all.yaml",
                M / "virtual-service-reviews-50-50.yaml",
            ],
        )
        objects = [*load_manifest_file(M / "bookinfo.yaml")]
        objects += [*load_manifest_file(M / "reviews-v2.yaml"), *load_manifest_file(M / "reviews-v3.yaml")]
        runner.run(lab.apply_objects, inject_objects(objects))
        runner.call(lab.settle())
        assert lab.info is not None
        yield runner, lab, lab.info.metrics_url.rsplit("/", 1)[0]


class Load:
    """Pages through the gateway from a background thread until stopped."""

    def __init__(self, url: str, rate_rps: float = 60.0) -> None:
        self.url, self.period, self.sent = url, 1.0 / rate_rps, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                client.get(self.url)
                self.sent += 1
                time.sleep(self.period)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def test_graph_json_tracks_the_lab_live(lab_with_bookinfo) -> None:  # type: ignore[no-untyped-def]
    runner, lab, admin = lab_with_bookinfo
    with httpx.Client(timeout=10) as client:
        assert client.get(admin + "/ui/graph.json").json()["edges"] == []
        for _ in range(200):
            assert client.get(lab.info.gateway_url + "/productpage").status_code == 200
        graph = client.get(admin + "/ui/graph.json").json()
        edges = {(e["source"], e["destination"], e["kind"]): e for e in graph["edges"]}
        assert edges[("istio-ingressgateway", "productpage-v1", "primary")]["total"] == 200
        assert edges[("productpage-v1", "reviews-v3", "primary")]["total"] > 50
        assert edges[("reviews-v3", "ratings-v1", "primary")]["total"] > 50
        assert 0.35 < graph["splits"]["reviews"]["total"]["reviews-v1"] < 0.65
        assert all(p["sidecar"] and p["ready"] == "2/2" for p in graph["pods"] if p["namespace"] == "default")
        # mirroring: all of reviews to v1, a copy of each request to v2
        runner.run(lab.apply_files, [M / "virtual-service-mirroring.yaml"])
        deadline = time.monotonic() + 10
        while not client.get(admin + "/debug/syncz").json()["synced"] and time.monotonic() < deadline:
            time.sleep(0.05)
        for _ in range(60):
            assert client.get(lab.info.gateway_url + "/productpage").status_code == 200
        runner.call(lab.mesh.drain())
        graph = client.get(admin + "/ui/graph.json").json()
        mirror = [e for e in graph["edges"] if e["kind"] == "mirror"]
        assert [(e["source"], e["destination"]) for e in mirror] == [("productpage-v1", "reviews-v2")]
        assert mirror[0]["total"] >= 57
        assert client.get(admin + "/ui/nope").status_code == 404
        assert client.post(admin + "/ui/graph.json").status_code == 405


@needs_chromium
def test_the_page_in_chromium_shows_edges_shares_and_sidecars_while_load_runs(
    lab_with_bookinfo, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    runner, lab, admin = lab_with_bookinfo
    # the 50/50 split, plus a copy of every reviews request to v2
    vs = load_manifest_file(M / "virtual-service-reviews-50-50.yaml")[0]
    vs["spec"]["http"][0]["mirror"] = {"host": "reviews", "subset": "v2"}
    runner.run(lab.apply_objects, [vs])
    deadline = time.monotonic() + 10
    while not httpx.get(admin + "/debug/syncz", timeout=10).json()["synced"] and time.monotonic() < deadline:
        time.sleep(0.05)
    httpx.get(admin + "/ui/graph.json", timeout=10)  # first snapshot: rates are counted from here
    with Load(lab.info.gateway_url + "/productpage"):
        time.sleep(1.0)
        dom = run_chromium(tmp_path / "p1", "--virtual-time-budget=3000", "--dump-dom", admin + "/ui")
        shot = screenshot(tmp_path / "p2", admin + "/ui", "mesh-view.png", size="1280,1000")
        narrow = screenshot(tmp_path / "p3", admin + "/ui", "mesh-view-narrow.png", size="390,1400")
    assert int(dom.split('data-polls="', 1)[1].split('"', 1)[0]) >= 1  # the script polled and redrew
    for src, dst in (
        ("istio-ingressgateway", "productpage-v1"),
        ("productpage-v1", "details-v1"),
        ("productpage-v1", "reviews-v1"),
        ("productpage-v1", "reviews-v3"),
        ("reviews-v3", "ratings-v1"),
    ):
        assert f'data-source="{src}" data-destination="{dst}"' in dom, (src, dst)
    assert 'class="edge primary flowing"' in dom  # a rate above zero while load runs
    assert 'data-source="productpage-v1" data-destination="reviews-v2" data-kind="mirror"' in dom
    words = text(dom)
    assert "% of reviews" in words and 'data-service="reviews"' in dom
    assert "ingress req/s" in words and "config synced" in words
    assert words.count("2/2") >= 6  # every Bookinfo pod with its sidecar, ready
    assert 'role="img"' in dom and "<desc" in dom
    publish(shot)
    assert narrow.exists()
