"""Faults during a run: pods deleted under load, a reviews pod that hangs, ratings down. The driver records
each as an outcome (never an exception), the verdict reports them, and the drive ends within its budgets."""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.drivers.aio import DriveConfig, DriveResult, drive
from harness.kube import KubeClient
from harness.lab.http import HttpRequest, HttpResponse
from harness.lab.lab import Lab, LabOptions, LabThread
from harness.model import Observation
from harness.paths import MANIFESTS_DIR as M
from harness.verdict import SequentialSplitTest, Status


@pytest.fixture
def lab() -> Iterator[tuple[LabThread, Lab]]:
    thread = LabThread(LabOptions(seed=11))
    with thread as lab:
        thread.run(
            lab.apply_files,
            [M / "bookinfo.yaml", M / "reviews-v2.yaml", M / "reviews-v3.yaml", M / "bookinfo-gateway.yaml"],
        )
        thread.call(lab.settle())
        yield thread, lab


def _drive(
    lab: Lab, **overrides: object
) -> tuple[DriveResult, collections.Counter[str], SequentialSplitTest]:
    """Drive /productpage, tally page states, and feed a pages {ok: 1.0} test (never stopping on it)."""
    assert lab.info is not None
    config = DriveConfig(base_url=lab.info.gateway_url, **overrides)  # type: ignore[arg-type]
    states: collections.Counter[str] = collections.Counter()
    test = SequentialSplitTest({"ok": 1.0}, tolerance=0.1, alpha=0.001, beta=0.001, max_requests=10**6)

    def seen(observation: Observation) -> bool:
        states[observation.outcome.state.value] += 1
        test.observe(observation.outcome.state.value)
        return False

    return asyncio.run(drive(config, seen)), states, test


def _pods(kube: KubeClient, selector: str) -> list[str]:
    return [p["metadata"]["name"] for p in kube.list("Pod", "default", selector)]


def test_pods_deleted_under_load_are_outcomes_and_the_drive_ends_in_budget(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, labobj = lab
    kube = KubeClient(kubeconfig=Path(labobj.info.kubeconfig))
    deleted: list[str] = []
    stop = threading.Event()

    def killer() -> None:  # kubectl delete pod, every reviews and ratings pod, three rounds while driving
        for _ in range(3):
            if stop.wait(0.3):
                return
            for name in _pods(kube, "app in (reviews, ratings)"):
                if kube.delete("Pod", "default", name):
                    deleted.append(name)

    killing = threading.Thread(target=killer)
    killing.start()
    try:
        started = time.monotonic()
        result, states, test = _drive(labobj, max_requests=100_000, time_budget_s=3.0, concurrency=8)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        killing.join(timeout=10)
        kube.close()
    assert len(deleted) >= 8, deleted  # four pods, several rounds
    assert result.stopped_by == "time_budget" and elapsed < 3.0 + 5.0
    assert result.observed == sum(states.values()) > 0
    assert result.transport_errors == states["mesh-error"] - sum(
        n for code, n in result.status_counts.items() if code != 200
    )
    assert test.verdict().n > 0


def test_a_hanging_reviews_pod_gives_error_pages_not_a_stuck_run(lab) -> None:  # type: ignore[no-untyped-def]
    thread, labobj = lab

    async def hang(request: HttpRequest) -> HttpResponse:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    def freeze_reviews() -> int:
        frozen = 0
        handlers = labobj._transport.handlers  # type: ignore[union-attr]  # the memory transport
        for (_, name), runtime in labobj.controller.pods.items():
            if name.startswith("reviews-") and runtime.endpoint.address in handlers:
                handlers[runtime.endpoint.address] = hang
                frozen += 1
        return frozen

    assert thread.run(freeze_reviews) == 3
    # productpage gives up on reviews after its own timeouts and renders the error page
    started = time.monotonic()
    result, states, test = _drive(
        labobj, max_requests=8, concurrency=8, time_budget_s=15, request_timeout_s=15
    )
    assert time.monotonic() - started < 15 + 15
    assert result.observed == 8 and result.stopped_by == "max_requests"
    assert states == {"reviews-error": 8}, states
    verdict = test.verdict()
    assert verdict.status is Status.FAIL and verdict.counts.get("reviews-error") == 1  # decided on the first

    # a driver timeout shorter than productpage's: each request is a timed-out outcome, the budget holds
    started = time.monotonic()
    result, states, test = _drive(
        labobj, max_requests=10**6, concurrency=8, time_budget_s=1.0, request_timeout_s=1.5
    )
    assert time.monotonic() - started < 1.0 + 1.5 + 1.0
    assert result.stopped_by == "time_budget" and result.observed == result.transport_errors >= 8
    assert states == {"mesh-error": result.observed}, states


def test_ratings_down_shows_as_ratings_unavailable_pages(lab) -> None:  # type: ignore[no-untyped-def]
    _, labobj = lab
    kube = KubeClient(kubeconfig=Path(labobj.info.kubeconfig))
    try:
        assert kube.delete("Deployment", "default", "ratings-v1")
        deadline = time.monotonic() + 10
        while _pods(kube, "app=ratings") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _pods(kube, "app=ratings")
    finally:
        kube.close()
    result, states, test = _drive(labobj, max_requests=300, time_budget_s=20.0)
    assert result.observed == 300 and result.transport_errors == 0
    # reviews v1 never calls ratings; v2 and v3 (two thirds of pages) show the ratings error
    assert set(states) == {"ok", "ratings-unavailable"}, states
    # P(fewer than 100 of 300 at p = 2/3) < 1e-30
    assert states["ratings-unavailable"] >= 100
    verdict = test.verdict()  # decided at the first ratings-unavailable page
    assert verdict.status is Status.FAIL and verdict.counts["ratings-unavailable"] == 1
