"""Running scenarios: apply (journalled), check the config with the oracle, wait for convergence, drive
traffic into sequential tests, account for mirrors, and collect one result per scenario.

This is the imperative shell around the pure parts (scenario, oracle, classify, verdict, checks).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness import oracle
from harness.checks import CheckResult, check_object, check_pods
from harness.drivers.aio import DriveConfig, drive
from harness.errors import HarnessError, InputError, TargetError
from harness.htmlreport import ConvergenceTrace, trace_key
from harness.journal import Journal
from harness.kube import describe
from harness.metrics import mirror_count
from harness.model import Observation
from harness.probetests import all_decided, build_probe_tests, observe_page
from harness.scenario import Probe, Scenario
from harness.target import Target, load_items
from harness.verdict import Status, Verdict, decide_counts

log = logging.getLogger(__name__)

GATE_CONSECUTIVE = 10  # pages in a row that the expected split allows before sampling starts
GATE_TIMEOUT_S = 30.0
MIRROR_SETTLE_S = 0.5  # mirrored copies are fire-and-forget: let the last ones land before reading metrics


@dataclass
class ProbeResult:
    name: str
    user: str | None
    reviews: Verdict | None
    pages: Verdict | None
    requests: int
    seconds: float
    stopped_by: str

    @property
    def status(self) -> Status:
        return _combine([v.status for v in (self.reviews, self.pages) if v is not None])

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "user": self.user,
            "verdict": self.status.value,
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "stopped_by": self.stopped_by,
            "reviews": self.reviews.to_json() if self.reviews else None,
            "pages": self.pages.to_json() if self.pages else None,
        }


@dataclass
class ScenarioResult:
    name: str
    description: str
    status: Status = Status.PASS
    findings: list[dict[str, str]] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    probes: list[ProbeResult] = field(default_factory=list)
    mirror: Verdict | None = None
    applied: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    @property
    def requests(self) -> int:
        return sum(p.requests for p in self.probes)

    def observed(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for probe in self.probes:
            if probe.reviews:
                out[probe.name] = probe.reviews.shares
        if self.mirror:
            out["mirror"] = self.mirror.shares
        return out

    def expected(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for probe in self.probes:
            if probe.reviews:
                out[probe.name] = probe.reviews.expected
        if self.mirror:
            out["mirror"] = self.mirror.expected
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "description": self.description,
            "verdict": self.status.value,
            "requests": self.requests,
            "observed": self.observed(),
            "expected": self.expected(),
            "findings": self.findings,
            "checks": [c.to_json() for c in self.checks],
            "probes": [p.to_json() for p in self.probes],
            "mirror": self.mirror.to_json() if self.mirror else None,
            "applied": self.applied,
            "seconds": round(self.seconds, 3),
            "error": self.error,
        }


def _combine(statuses: Sequence[Status]) -> Status:
    if Status.FAIL in statuses:
        return Status.FAIL
    if Status.INCONCLUSIVE in statuses:
        return Status.INCONCLUSIVE
    return Status.PASS


@dataclass
class RunOptions:
    alpha: float | None = None  # overrides the scenario's
    beta: float | None = None
    progress: bool = False
    jsonl_dir: Path | None = None
    gate: bool = True
    driver: str = "aio"  # or "locust": Locust in a subprocess
    locust_processes: int | None = None
    locust_dir: Path | None = None


class Runner:
    def __init__(
        self,
        target: Target,
        journal: Journal,
        options: RunOptions | None = None,
        on_event: Callable[[str, dict], None] | None = None,
    ) -> None:
        self.target = target
        self.journal = journal
        self.options = options or RunOptions()
        self.on_event = on_event or (lambda name, data: None)
        self.traces: dict[str, ConvergenceTrace] = {}  # how each test's shares converged (HTML report)

    async def run(self, scenario: Scenario) -> ScenarioResult:
        started = time.monotonic()
        result = ScenarioResult(scenario.name, scenario.description)
        self.on_event("scenario_start", {"name": scenario.name})
        try:
            await self._run(scenario, result)
        except HarnessError as exc:
            result.status = Status.FAIL if not isinstance(exc, TargetError) else Status.INCONCLUSIVE
            result.error = str(exc)
            if isinstance(exc, TargetError | InputError):
                raise
        finally:
            result.seconds = time.monotonic() - started
            self.on_event("scenario_end", {"name": scenario.name, "verdict": result.status.value})
        return result

    async def _run(self, scenario: Scenario, result: ScenarioResult) -> None:
        alpha = self.options.alpha or scenario.alpha
        beta = self.options.beta or scenario.beta
        for item in scenario.delete:
            kind, _, name = item.partition("/")
            if self.target.delete(kind, name, self.journal):
                result.applied.append(f"deleted {describe(kind, scenario.namespace, name)}")
        result.applied += self.target.apply(load_items(scenario.setup), self.journal)
        result.applied += self.target.apply(load_items(scenario.apply), self.journal)
        self.target.wait_rollout()
        self.target.wait_synced()

        objects = self.target.snapshot()
        result.findings, predictions = self._oracle(scenario, objects)
        config_failed = any(
            f["level"] == "Error" and f["code"].startswith("HARNESS") for f in result.findings
        )

        pods = self.target.kube.list("Pod", scenario.namespace)
        result.checks += [check_pods(pods, check) for check in scenario.pods]
        for check in scenario.objects:
            namespace = None if check.kind == "Namespace" else scenario.namespace
            result.checks.append(check_object(self.target.kube.get(check.kind, namespace, check.name), check))
        if scenario.routes:
            result.checks += await self._check_routes(scenario.routes)

        for probe in scenario.probes:
            judge_mirror = scenario.mirror is not None and probe.traffic.user is None
            before = self._metrics_snapshot() if judge_mirror else (None, "")
            probe_result = await self._run_probe(scenario, probe, alpha, beta, predictions.get(probe.name))
            result.probes.append(probe_result)
            if judge_mirror:
                result.mirror = await self._mirror_verdict(scenario, before, alpha, beta)

        statuses = [p.status for p in result.probes]
        if result.mirror:
            statuses.append(result.mirror.status)
        if config_failed or any(not c.ok for c in result.checks):
            statuses.append(Status.FAIL)
        result.status = _combine(statuses)

    def _oracle(
        self, scenario: Scenario, objects: list[dict]
    ) -> tuple[list[dict[str, str]], dict[str, oracle.Expectation]]:
        """Config findings, and per probe the split the applied config should produce (when modelled)."""
        out = [_finding_json(f) for f in oracle.findings(objects, namespace=scenario.namespace)]
        predictions: dict[str, oracle.Expectation] = {}
        for probe in scenario.probes:
            try:
                expectation = oracle.expected_reviews_split(
                    objects,
                    oracle.Request(user=probe.traffic.user, path=probe.traffic.path),
                    namespace=scenario.namespace,
                )
            except oracle.OracleError as exc:
                message = f"the oracle cannot model this config: {exc}"
                out.append({"code": "HARNESS000", "level": "Info", "object": probe.name, "message": message})
                continue
            predictions[probe.name] = expectation
            if probe.reviews is None:
                continue
            for finding in oracle.compare_intent(expectation, probe.reviews, tolerance=scenario.tolerance):
                item = _finding_json(finding)
                item["message"] = f"[{probe.name}] {item['message']}"
                out.append(item)
        return out, predictions

    async def _check_routes(self, routes: Mapping[str, int]) -> list[CheckResult]:
        results = []
        async with httpx.AsyncClient(
            base_url=self.target.gateway_url, timeout=15, follow_redirects=False
        ) as client:
            for path, want in routes.items():
                try:
                    got = (await client.get(path)).status_code
                except httpx.HTTPError as exc:
                    raise TargetError(f"gateway {self.target.gateway_url} unreachable: {exc}") from None
                results.append(CheckResult(f"route {path}", got == want, f"HTTP {got}, expected {want}"))
        return results

    async def _run_probe(
        self,
        scenario: Scenario,
        probe: Probe,
        alpha: float,
        beta: float,
        prediction: oracle.Expectation | None = None,
    ) -> ProbeResult:
        traffic = probe.traffic
        tests = build_probe_tests(
            reviews=probe.reviews,
            pages=probe.pages,
            tolerance=scenario.tolerance,
            alpha=alpha,
            beta=beta,
            max_requests=traffic.max_requests,
            leak_tolerance=scenario.leak_tolerance,
        )
        config = DriveConfig(
            base_url=self.target.gateway_url,
            path=traffic.path,
            user=traffic.user,
            concurrency=traffic.concurrency,
            max_requests=traffic.max_requests,
            time_budget_s=traffic.time_budget_s,
            rate_rps=traffic.rate_rps,
            fresh_connections=traffic.fresh_connections,
            progress=self.options.progress,
            jsonl=(self.options.jsonl_dir / f"{scenario.name}.{probe.name}.jsonl")
            if self.options.jsonl_dir
            else None,
        )
        if self.options.gate:
            await self._gate(config, probe, prediction)
        if self.options.driver == "locust":
            from harness.drivers.locust.driver import LocustOptions, run_locust_probe

            workdir = self.options.locust_dir or Path(tempfile.mkdtemp(prefix="bookinfo-locust-"))
            locust = await asyncio.to_thread(
                run_locust_probe,
                self.target.gateway_url,
                scenario,
                probe,
                workdir=workdir,
                alpha=alpha,
                beta=beta,
                options=LocustOptions(processes=self.options.locust_processes),
            )
            return locust.to_probe_result()
        traces = {
            k: ConvergenceTrace(dict(t.expected), tolerance=scenario.tolerance) for k, t in tests.items()
        }
        for key, trace in traces.items():
            self.traces[trace_key(scenario.name, probe.name, key)] = trace

        def on_observation(observation: Observation) -> bool:
            outcome = observation.outcome
            values = {"reviews": outcome.version.value, "pages": outcome.state.value}
            for key, verdict in observe_page(tests, values["reviews"], values["pages"]).items():
                traces[key].observe(values[key], verdict)
            return all_decided(tests)

        summary = await drive(config, on_observation)
        verdicts = {key: test.verdict() for key, test in tests.items()}
        return ProbeResult(
            probe.name,
            traffic.user,
            verdicts.get("reviews"),
            verdicts.get("pages"),
            summary.observed,
            summary.seconds,
            summary.stopped_by,
        )

    async def _gate(self, config: DriveConfig, probe: Probe, prediction: oracle.Expectation | None) -> None:
        """Convergence gate: wait until K pages in a row are ones the applied config can produce.

        "Can produce" comes from the oracle's prediction of the applied objects (the scenario's own
        expectation only when the oracle cannot model them), so a scenario whose intent is wrong does not
        wait here. The gate's pages are discarded; it never decides a verdict and is never repeated once
        sampling starts (no retry-until-pass).
        """
        if prediction is not None:
            allowed_versions = {v for v, share in prediction.pages_by_version.items() if share > 0}
            allowed_states = {s for s, share in prediction.page_states.items() if share > 0}
        else:
            allowed_versions = {v for v, share in (probe.reviews or {}).items() if share > 0}
            allowed_states = {s for s, share in (probe.pages or {}).items() if share > 0}
        streak = [0]

        def allowed(observation: Observation) -> bool:
            outcome = observation.outcome
            ok = (not allowed_versions or outcome.version.value in allowed_versions) and (
                not allowed_states or outcome.state.value in allowed_states
            )
            streak[0] = streak[0] + 1 if ok else 0
            return streak[0] >= GATE_CONSECUTIVE

        gate_config = DriveConfig(
            base_url=config.base_url,
            path=config.path,
            user=config.user,
            concurrency=min(config.concurrency, GATE_CONSECUTIVE),
            max_requests=100_000,
            time_budget_s=GATE_TIMEOUT_S,
            request_timeout_s=config.request_timeout_s,
        )
        summary = await drive(gate_config, allowed)
        if summary.stopped_by != "decided":
            log.warning(
                "convergence gate: no %d consecutive pages matching the config within %.0f s",
                GATE_CONSECUTIVE,
                GATE_TIMEOUT_S,
            )

    def _metrics_snapshot(self) -> tuple[dict | None, str]:
        """Istio's request counters now, or None and the reason they cannot be read."""
        if self.target.metrics is None:
            return None, "no metrics source on this target (pass --prometheus-url)"
        try:
            return self.target.metrics.snapshot(), ""
        except TargetError as exc:
            log.warning("%s", exc)
            return None, str(exc)

    async def _mirror_verdict(
        self, scenario: Scenario, before: tuple[dict | None, str], alpha: float, beta: float
    ) -> Verdict:
        assert scenario.mirror is not None
        workload, share = next(iter(scenario.mirror.items()))
        expected = {"mirrored": share, "not-mirrored": 1.0 - share}
        samples_before, problem = before
        samples_after = None
        if samples_before is not None:
            await asyncio.sleep(MIRROR_SETTLE_S)
            samples_after, problem = self._metrics_snapshot()
        if samples_before is None or samples_after is None:
            unmeasured = decide_counts({}, expected, tolerance=scenario.tolerance, alpha=alpha, beta=beta)
            return dataclasses.replace(unmeasured, reason=f"mirroring not measured: {problem}")
        service = workload.rsplit("-", 1)[0]
        count = mirror_count(
            samples_before,
            samples_after,
            service=service,
            mirror_workload=workload,
            namespace=scenario.namespace,
        )
        mirrored = min(count.mirrored, count.routed)
        counts = {"mirrored": mirrored, "not-mirrored": count.routed - mirrored}
        return decide_counts(counts, expected, tolerance=scenario.tolerance, alpha=alpha, beta=beta)


def _finding_json(finding: oracle.Finding) -> dict[str, str]:
    return {
        "code": finding.code,
        "level": finding.level,
        "object": finding.object,
        "message": finding.message,
    }
