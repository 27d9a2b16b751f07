"""Grading one contestant, or many at once: read the state, run the checks, score. The imperative shell.

`grade(rubric, spec)` reads the cluster through `ReadOnlyKube` (nothing else can reach the API), evaluates
every config check on that one snapshot (pure), waits for config propagation, then runs the behaviour
checks through the ingress gateway, and scores (pure). An unreachable target is a sheet of zeros with the
reason, never an exception. `grade_many` grades several targets concurrently with a bound and a per-target
time budget.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from harness.errors import HarnessError, InputError
from harness.grading.baseline import flags_since, make_baseline
from harness.grading.behaviour import Traffic, run_behaviour
from harness.grading.checks import CheckResult, evaluate_config, oracle_view
from harness.grading.readonly import ClusterState, ReadOnlyKube, collect_state
from harness.grading.rubric import Rubric
from harness.grading.score import Sheet, score
from harness.metrics import LabMetrics, PrometheusMetrics
from harness.target import discover_gateway_url

log = logging.getLogger(__name__)
SYNC_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class TargetSpec:
    """Where one contestant's work lives: a kubeconfig/context and/or a gateway URL (+ metrics)."""

    name: str
    kubeconfig: Path | None = None
    context: str | None = None
    gateway_url: str | None = None
    metrics_url: str | None = None  # a lab's (or any Envoy-style) /metrics
    prometheus_url: str | None = None
    sync_url: str | None = None  # the lab's /debug/syncz: when set, the propagation wait is exact

    @classmethod
    def for_lab(cls, name: str, info: Any) -> TargetSpec:  # info: harness.lab.lab.LabInfo
        base = info.metrics_url.rsplit("/", 1)[0]
        return cls(
            name, Path(info.kubeconfig), None, info.gateway_url, info.metrics_url, None, f"{base}/debug/syncz"
        )


def load_targets(path: Path) -> list[TargetSpec]:
    """`name: {kubeconfig, context, gateway_url, metrics_url, prometheus_url}` or `name: KUBECONFIG`."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read targets: {exc}") from None
    if isinstance(raw, Mapping) and "targets" in raw:
        raw = raw["targets"]
    if not isinstance(raw, Mapping) or not raw:
        raise InputError(f"{path}: expected a mapping of contestant name to kubeconfig/context/gateway_url")
    base = Path(path).resolve().parent
    specs = []
    allowed = {"kubeconfig", "context", "gateway_url", "metrics_url", "prometheus_url", "sync_url"}
    for name, entry in raw.items():
        data = {"kubeconfig": entry} if isinstance(entry, str) else entry
        if not isinstance(data, Mapping) or set(data) - allowed:
            raise InputError(f"{path}: {name}: expected keys among {', '.join(sorted(allowed))}")
        if not (data.get("kubeconfig") or data.get("context") or data.get("gateway_url")):
            raise InputError(f"{path}: {name}: needs a kubeconfig, a context or a gateway_url")
        kubeconfig = Path(data["kubeconfig"]) if data.get("kubeconfig") else None
        if kubeconfig is not None and not kubeconfig.is_absolute():
            kubeconfig = base / kubeconfig
        specs.append(
            TargetSpec(
                str(name),
                kubeconfig,
                data.get("context"),
                data.get("gateway_url"),
                data.get("metrics_url"),
                data.get("prometheus_url"),
                data.get("sync_url"),
            )
        )
    return specs


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def score_state(
    rubric: Rubric,
    state: ClusterState,
    behaviour: Mapping[str, CheckResult],
    flags: Mapping[str, Sequence[str]] | None = None,
) -> list:
    """Pure: the item scores for one snapshot plus the behaviour results already observed."""
    view = oracle_view(state.objects, rubric.namespace)
    results: dict[str, list[CheckResult]] = {}
    for item in rubric.items:
        out = []
        for check in item.checks:
            key = f"{item.id}/{check.id}"
            if check.category == "behaviour":
                out.append(behaviour[key])
            else:
                out.append(evaluate_config(check, state.objects, view))
        results[item.id] = out
    return score(rubric, results, flags=flags)


def _wait_propagation(rubric: Rubric, spec: TargetSpec, deadline: float) -> None:
    """The lab says when its mesh serves the current config; a cluster gets the rubric's fixed wait."""
    if spec.sync_url:
        end = min(deadline, time.monotonic() + SYNC_TIMEOUT_S)
        while time.monotonic() < end:
            try:
                if httpx.get(spec.sync_url, timeout=5).json().get("synced"):
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.05)
        return
    time.sleep(max(0.0, min(rubric.propagation_wait_s, deadline - time.monotonic())))


def grade(
    rubric: Rubric,
    spec: TargetSpec,
    *,
    budget_s: float = 300.0,
    baseline: Mapping[str, Any] | None = None,
    config_only: bool = False,
) -> tuple[Sheet, ClusterState | None]:
    """Grade one target. Returns the sheet and the state read (None when the API could not be read)."""
    started, stamp = time.monotonic(), _now()
    deadline = started + budget_s
    sheet = Sheet(rubric.name, spec.name, [], started=stamp)
    kube: ReadOnlyKube | None = None
    state: ClusterState | None = None
    try:
        if spec.kubeconfig is None and spec.context is None:
            raise InputError("no kubeconfig or context for this target: the cluster's objects cannot be read")
        kube = ReadOnlyKube.connect(spec.kubeconfig, spec.context)
        sheet.identity, sheet.host, sheet.context = kube.identity, kube.host, spec.context
        sheet.server_version = kube.server_version()
        state = collect_state(kube, rubric.namespaces())
        sheet.errors.extend(state.errors)
    except HarnessError as exc:
        sheet.reachable = False
        sheet.errors.append(str(exc))
        sheet.items = score(rubric, {}, error=f"target not graded: {exc}")
        sheet.seconds = time.monotonic() - started
        if kube is not None:
            kube.close()
        return sheet, None
    try:
        behaviour: dict[str, CheckResult] = {}
        checks = [(i.id, c) for i in rubric.items for c in i.checks if c.category == "behaviour"]
        if checks:
            traffic = Traffic(spec.gateway_url, None, deadline)
            if config_only:
                traffic.gateway_url, traffic.gateway_error = None, "behaviour checks skipped (--config-only)"
            elif traffic.gateway_url is None:
                try:
                    traffic.gateway_url = discover_gateway_url(kube)  # type: ignore[arg-type]
                except HarnessError as exc:
                    traffic.gateway_error = str(exc)
            if spec.metrics_url:
                traffic.metrics = LabMetrics(spec.metrics_url)
            elif spec.prometheus_url:
                traffic.metrics = PrometheusMetrics(spec.prometheus_url)
            if traffic.gateway_url:
                _wait_propagation(rubric, spec, deadline)

            async def run_all() -> None:
                for item_id, check in checks:
                    behaviour[f"{item_id}/{check.id}"] = await run_behaviour(check, traffic)

            asyncio.run(run_all())
        flags = flags_since(rubric, baseline, state.objects) if baseline is not None else None
        sheet.items = score_state(rubric, state, behaviour, flags)
    finally:
        kube.close()
    sheet.seconds = time.monotonic() - started
    return sheet, state


def baseline_of(spec: TargetSpec, rubric: Rubric) -> dict[str, Any]:
    """Read the target once and record every object's identity (exam start)."""
    kube = ReadOnlyKube.connect(spec.kubeconfig, spec.context)
    try:
        state = collect_state(kube, rubric.namespaces())
    finally:
        kube.close()
    return make_baseline(state.objects, target=spec.name, taken_at=datetime.now(UTC))


def grade_many(
    rubric: Rubric,
    specs: Sequence[TargetSpec],
    *,
    parallel: int = 4,
    budget_s: float = 300.0,
    baselines: Mapping[str, Mapping[str, Any]] | None = None,
    config_only: bool = False,
) -> list[Sheet]:
    """Grade every target, at most `parallel` at a time, each within `budget_s`; order follows `specs`."""
    grace = 30.0
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="grade")
    try:
        futures = {
            spec.name: pool.submit(
                grade,
                rubric,
                spec,
                budget_s=budget_s,
                baseline=(baselines or {}).get(spec.name),
                config_only=config_only,
            )
            for spec in specs
        }
        sheets = []
        overall = time.monotonic() + budget_s * (len(specs) / max(1, parallel) + 1) + grace
        for spec in specs:
            try:
                sheet, _ = futures[spec.name].result(timeout=max(0.1, overall - time.monotonic()))
            except concurrent.futures.TimeoutError:
                sheet = Sheet(
                    rubric.name,
                    spec.name,
                    score(rubric, {}, error="time budget exceeded"),
                    reachable=False,
                    errors=["time budget exceeded"],
                    started=_now(),
                )
            except Exception as exc:
                log.exception("grading %s failed", spec.name)
                sheet = Sheet(
                    rubric.name,
                    spec.name,
                    score(rubric, {}, error=f"grader error: {exc}"),
                    reachable=False,
                    errors=[f"grader error: {exc}"],
                    started=_now(),
                )
            sheets.append(sheet)
        return sheets
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
