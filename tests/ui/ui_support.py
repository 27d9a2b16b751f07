"""Shared by the UI tests: headless Chromium, artifact folders, and a deterministic set of run results."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

from chromium_support import chromium, needs_chromium, text  # noqa: F401  (re-exported)

from harness.checks import CheckResult
from harness.htmlreport import ConvergenceTrace, trace_key
from harness.runner import ProbeResult, ScenarioResult
from harness.verdict import SequentialSplitTest, Status, decide_counts

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "ui"
DOCS_SHOTS = ROOT / "docs" / "screenshots"
PUBLISH_ENV = "BOOKINFO_HARNESS_PUBLISH_SCREENSHOTS"


def screenshot(profile: Path, url: str, name: str, size: str = "1280,900", budget_ms: int = 2500) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / name
    shot.unlink(missing_ok=True)
    chromium(
        profile, f"--virtual-time-budget={budget_ms}", f"--window-size={size}", f"--screenshot={shot}", url
    )
    assert shot.exists() and shot.stat().st_size > 5000, f"no screenshot at {shot}"
    return shot


def publish(shot: Path) -> Path | None:
    """Copy a screenshot to docs/screenshots/ (the README shows them) when `make screenshots` asks for it:
    a plain test run must not rewrite tracked files."""
    if os.environ.get(PUBLISH_ENV) != "1":
        return None
    DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
    target = DOCS_SHOTS / shot.name
    shutil.copyfile(shot, target)
    return target


def _probe(
    scenario: str,
    name: str,
    user: str | None,
    expected: dict[str, float],
    truth: dict[str, float],
    seed: int,
    traces: dict[str, ConvergenceTrace],
    max_requests: int = 5000,
) -> ProbeResult:
    """A probe fed from a seeded stream, recording its trace as the runner does."""
    rng = random.Random(seed)
    test = SequentialSplitTest(expected, tolerance=0.1, alpha=0.001, beta=0.001, max_requests=max_requests)
    trace = traces[trace_key(scenario, name)] = ConvergenceTrace(dict(expected), tolerance=0.1)
    names, weights = list(truth), list(truth.values())
    while not test.decided:
        category = rng.choices(names, weights)[0]
        trace.observe(category, test.observe(category))
    verdict = test.verdict()
    return ProbeResult(name, user, verdict, None, verdict.n, verdict.n / 180.0, "decided")


def sample_run() -> tuple[list[ScenarioResult], dict[str, ConvergenceTrace]]:
    """Three scenarios: a 50/50 PASS with a mirror, an 80/20 that the mesh serves 50/50 (FAIL), and a
    budget-capped INCONCLUSIVE one. Deterministic (seeded)."""
    traces: dict[str, ConvergenceTrace] = {}
    ok = ScenarioResult("reviews-50-50", "half of the reviews traffic goes to v3")
    ok.probes.append(
        _probe(ok.name, "anonymous", None, {"v1": 0.5, "v3": 0.5}, {"v1": 0.5, "v3": 0.5}, 1, traces)
    )
    ok.mirror = decide_counts({"mirrored": 412, "not-mirrored": 0}, {"mirrored": 1.0, "not-mirrored": 0.0})
    ok.applied = [
        "created Deployment default/reviews-v3",
        "configured VirtualService default/reviews (virtual-service-reviews-50-50.yaml)",
    ]
    ok.checks = [CheckResult("pods app=productpage", True, "1 pod 2/2 ready")]
    ok.findings = [
        {"code": "IST0118", "level": "Info", "object": "Service default/details", "message": "port name ok"}
    ]
    ok.seconds = 4.2
    bad = ScenarioResult("reviews-80-20", "80 % v1, 20 % v3 (the mesh still serves 50/50)")
    bad.probes.append(
        _probe(bad.name, "anonymous", None, {"v1": 0.8, "v3": 0.2}, {"v1": 0.5, "v3": 0.5}, 2, traces)
    )
    bad.findings = [
        {
            "code": "HARNESS001",
            "level": "Error",
            "object": "anonymous",
            "message": "the applied config routes v1=0.50 v3=0.50, the scenario states v1=0.80 v3=0.20",
        }
    ]
    bad.applied = ["configured VirtualService default/reviews"]
    bad.seconds = 2.1
    bad.status = Status.FAIL
    unsure = ScenarioResult("reviews-jason-v2", "jason sees v2, everyone else v1")
    unsure.probes.append(
        _probe(
            unsure.name, "jason", "jason", {"v2": 0.5, "v3": 0.5}, {"v2": 0.56, "v3": 0.44}, 3, traces, 300
        )
    )
    unsure.seconds = 3.0
    unsure.status = Status.INCONCLUSIVE
    ok.status = Status.PASS
    return [ok, bad, unsure], traces


def sample_grade_document() -> dict[str, object]:
    """A grade --json document with two contestants (one perfect, one partial with failed checks)."""

    def check(cid: str, passed: bool, **extra: str) -> dict[str, object]:
        return {
            "id": cid,
            "kind": "config",
            "category": "config",
            "weight": 1,
            "passed": passed,
            "expected": extra.get("expected", ""),
            "found": extra.get("found", ""),
            "where": extra.get("where", ""),
            "advice": extra.get("advice", ""),
            "diagnoses": [],
            "details": {},
        }

    def item(iid: str, title: str, points: float, earned: float, status: str, checks: list) -> dict:
        return {
            "id": iid,
            "title": title,
            "points": points,
            "earned": earned,
            "config": {"points": points, "earned": earned},
            "behaviour": {"points": 0, "earned": 0},
            "status": status,
            "reason": "",
            "flags": [],
            "checks": checks,
        }

    good = [
        item("gateway", "Bookinfo behind the ingress gateway", 10, 10, "pass", [check("gw-exists", True)]),
        item("split-50-50", "Reviews split 50/50 between v1 and v3", 20, 20, "pass", [check("vs", True)]),
    ]
    partial = [
        good[0],
        item(
            "split-50-50",
            "Reviews split 50/50 between v1 and v3",
            20,
            10,
            "partial",
            [
                check("vs-weights", True),
                check(
                    "dr-subsets",
                    False,
                    expected="subset v3 with labels version=v3",
                    found="DestinationRule reviews has subsets v1, v2",
                    where="DestinationRule default/reviews spec.subsets",
                    advice="add subset v3 (version: v3) to the reviews DestinationRule",
                ),
            ],
        ),
    ]

    def sheet(target: str, items: list[dict]) -> dict[str, object]:
        earned = sum(i["earned"] for i in items)
        return {
            "rubric": "servicemesh",
            "target": target,
            "identity": f"system:serviceaccount:{target}",
            "api_server": "https://127.0.0.1:6443",
            "context": target,
            "server_version": "v1.29.0",
            "started": "2024-05-01T10:00:00Z",
            "seconds": 12.5,
            "reachable": True,
            "errors": [],
            "total": {"points": 30, "earned": earned},
            "config": {"points": 30, "earned": earned},
            "behaviour": {"points": 0, "earned": 0},
            "items": items,
        }

    return {"format": "bookinfo-harness/grade/v1", "sheets": [sheet("alice", good), sheet("bob", partial)]}
