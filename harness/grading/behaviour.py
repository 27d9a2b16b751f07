"""Behaviour checks: real traffic through the ingress gateway, judged without applying anything.

Only requests to the gateway leave this module: GETs of pages, and for a logged-in probe the app's own
`POST /login` (it sets a session cookie in the reply; nothing in the cluster changes). Splits are decided by
the sequential test at the rubric's alpha (1e-7 by default), mirror copies from the metrics' counters by the
fixed-sample test; a failed check carries the verdict's reason.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass

import httpx

from harness.drivers.aio import DriveConfig, drive
from harness.errors import HarnessError
from harness.grading.checks import CheckResult, result
from harness.grading.rubric import Check
from harness.metrics import LabMetrics, PrometheusMetrics, mirror_count
from harness.model import Observation
from harness.verdict import SequentialSplitTest, Status, decide_counts

MIRROR_SETTLE_S = 0.5
_TITLE = re.compile(r"<title[^>]*>\s*(.*?)\s*</title\s*>", re.I | re.S)


@dataclass
class Traffic:
    gateway_url: str | None
    metrics: LabMetrics | PrometheusMetrics | None
    deadline: float  # time.monotonic() by which this contestant's grading must end
    gateway_error: str | None = None

    def left(self) -> float:
        return self.deadline - time.monotonic()


def _fmt(shares: dict[str, float]) -> str:
    return "{" + ", ".join(f"{k}: {v:.3f}" for k, v in sorted(shares.items()) if v) + "}"


async def check_http(check: Check, t: Traffic) -> CheckResult:
    p = check.params
    path, status, title = str(p["path"]), int(p.get("status", 200)), p.get("page_title")
    expected = f"GET {path} -> HTTP {status}" + (f" with title {title!r}" if title else "")
    where = f"{t.gateway_url}{path}"
    try:
        async with httpx.AsyncClient(timeout=max(1.0, min(15.0, t.left())), follow_redirects=False) as c:
            response = await c.get(f"{t.gateway_url}{path}")
    except httpx.HTTPError as exc:
        return result(check, False, expected, f"gateway unreachable: {type(exc).__name__}: {exc}", where)
    match = _TITLE.search(response.text) if title else None
    got_title = match.group(1) if match else None
    ok = response.status_code == status and (not title or got_title == title)
    found = f"HTTP {response.status_code}" + (f", title {got_title!r}" if title else "")
    return result(check, ok, expected, found, where)


async def check_traffic(check: Check, t: Traffic) -> CheckResult:
    p = check.params
    who = f"user {p['user']}" if p.get("user") else "anonymous"
    expected = (
        f"{who} GET {p['path']}: reviews {_fmt(p['expect'])} "
        f"(tolerance {p['tolerance']:g}, alpha {p['alpha']:g})"
    )
    test = SequentialSplitTest(
        p["expect"],
        tolerance=p["tolerance"],
        alpha=p["alpha"],
        beta=p["beta"],
        max_requests=p["max_requests"],
        leak_tolerance=p["leak_tolerance"],
    )

    def on(observation: Observation) -> bool:
        return test.observe(observation.outcome.version.value) is not None

    config = DriveConfig(
        base_url=str(t.gateway_url),
        path=p["path"],
        user=p.get("user"),
        concurrency=p["concurrency"],
        max_requests=p["max_requests"],
        time_budget_s=max(1.0, t.left()),
        request_timeout_s=10.0,
    )
    try:
        summary = await drive(config, on)
    except HarnessError as exc:
        return result(check, False, expected, str(exc), t.gateway_url or "")
    verdict = test.verdict()
    found = f"{verdict.status.value} after {verdict.n} pages: {_fmt(verdict.shares)}; {verdict.reason}"
    if summary.status_counts and set(summary.status_counts) != {200}:
        found += f" (HTTP {dict(sorted(summary.status_counts.items()))})"
    return result(
        check,
        verdict.status == Status.PASS,
        expected,
        found,
        f"{t.gateway_url}{p['path']}",
        details={"verdict": verdict.to_json()},
    )


async def check_mirror(check: Check, t: Traffic) -> CheckResult:
    p = check.params
    workload, share = str(p["workload"]), float(p["share"])
    expected = f"{share:g} mirrored copies at {workload} per routed request"
    if t.metrics is None:
        return result(check, False, expected, "no metrics source (pass --metrics-url or --prometheus-url)")
    try:
        await asyncio.sleep(MIRROR_SETTLE_S)
        before = t.metrics.snapshot()
        config = DriveConfig(
            base_url=str(t.gateway_url),
            max_requests=p["requests"],
            concurrency=p["concurrency"],
            time_budget_s=max(1.0, t.left()),
            request_timeout_s=10.0,
        )
        await drive(config, lambda _o: False)
        await asyncio.sleep(MIRROR_SETTLE_S)
        after = t.metrics.snapshot()
    except HarnessError as exc:
        return result(check, False, expected, str(exc), t.gateway_url or "")
    count = mirror_count(
        before, after, service=workload.rsplit("-", 1)[0], mirror_workload=workload, namespace=check.namespace
    )
    mirrored = min(count.mirrored, count.routed)
    verdict = decide_counts(
        {"mirrored": mirrored, "not-mirrored": count.routed - mirrored},
        {"mirrored": share, "not-mirrored": 1.0 - share},
        tolerance=p["tolerance"],
        alpha=p["alpha"],
        beta=p["beta"],
    )
    found = f"{verdict.status.value}: {mirrored} copies for {count.routed} routed requests; {verdict.reason}"
    return result(
        check,
        verdict.status == Status.PASS,
        expected,
        found,
        f'istio_requests_total{{destination_workload="{workload}"}}',
        details={"verdict": verdict.to_json()},
    )


RUNNERS = {"http": check_http, "traffic": check_traffic, "mirror": check_mirror}


async def run_behaviour(check: Check, t: Traffic) -> CheckResult:
    if t.gateway_url is None:
        return result(
            check,
            False,
            "(traffic through the ingress gateway)",
            f"no gateway: {t.gateway_error or 'unknown'}",
        )
    if t.left() <= 0:
        return result(check, False, "(traffic through the ingress gateway)", "time budget exhausted")
    return await RUNNERS[check.kind](check, t)
