"""Run one scenario probe with Locust as the driver, in a subprocess, and read back its verdicts.

This module never imports ``locust``: it starts ``python -m locust -f locustfiles/bookinfo.py --headless ...``
as a child process, so gevent's monkey-patching stays in that child and never reaches the asyncio/kubernetes
side of the harness. The child derives the expectation from the same scenario file (``--scenario PATH
--probe NAME``), runs until every sequential test has decided (or the time budget ends), and writes the run
document (the shape of ``bookinfo-harness run --json``); this module turns it back into
:class:`~harness.verdict.Verdict` values.

    result = run_locust_probe(target.gateway_url, scenario, probe, workdir=Path("out"))
    result.status, result.reviews.reason        # or: result.to_probe_result() for the runner
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.drivers.locust import LOCUSTFILE
from harness.errors import DriverError
from harness.scenario import Probe, Scenario
from harness.verdict import Status, Verdict

if TYPE_CHECKING:
    from harness.runner import ProbeResult

STARTUP_ALLOWANCE_S = 30.0  # interpreter + Locust start, worker handshake, final reports


@dataclass(frozen=True)
class LocustOptions:
    users: int | None = None  # default: the probe's concurrency
    spawn_rate: float | None = None  # default: all users at once
    processes: int | None = None  # --processes N: one master and N workers on this machine
    extra_args: tuple[str, ...] = ()
    locustfile: Path = LOCUSTFILE
    python: str = sys.executable
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass
class LocustProbeResult:
    name: str
    user: str | None
    reviews: Verdict | None
    pages: Verdict | None
    requests: int
    seconds: float
    stopped_by: str
    exit_code: int
    document: dict[str, Any]
    verdict_json: Path
    csv_prefix: Path
    log: Path

    @property
    def status(self) -> Status:
        statuses = {v.status for v in (self.reviews, self.pages) if v is not None}
        if Status.FAIL in statuses:
            return Status.FAIL
        if Status.INCONCLUSIVE in statuses or not statuses:
            return Status.INCONCLUSIVE
        return Status.PASS

    def to_probe_result(self) -> ProbeResult:
        """The runner's ProbeResult (imported here, so that this module stays importable on its own)."""
        from harness.runner import ProbeResult

        return ProbeResult(
            self.name, self.user, self.reviews, self.pages, self.requests, self.seconds, self.stopped_by
        )


def verdict_from_json(data: Mapping[str, Any]) -> Verdict:
    """Rebuild a :class:`Verdict` from :meth:`Verdict.to_json` output."""
    return Verdict(
        status=Status(data["status"]),
        n=int(data["n"]),
        counts={str(k): int(v) for k, v in data["counts"].items()},
        shares={str(k): float(v) for k, v in data["shares"].items()},
        expected={str(k): float(v) for k, v in data["expected"].items()},
        intervals={str(k): (float(v[0]), float(v[1])) for k, v in data["intervals"].items()},
        alpha=float(data["alpha"]),
        beta=float(data["beta"]),
        tolerance=float(data["tolerance"]),
        method=str(data["method"]),
        reason=str(data["reason"]),
        leak_tolerance=None if data.get("leak_tolerance") is None else float(data["leak_tolerance"]),
    )


def _seconds_arg(seconds: float) -> str:
    return f"{max(1, math.ceil(seconds))}s"


def locust_command(
    gateway_url: str,
    scenario_path: Path,
    probe: Probe,
    *,
    verdict_json: Path,
    csv_prefix: Path,
    alpha: float | None = None,
    beta: float | None = None,
    options: LocustOptions = LocustOptions(),
) -> list[str]:
    """The headless Locust command line for one probe (exposed for tests and for the report)."""
    traffic = probe.traffic
    users = options.users or traffic.concurrency
    command = [
        options.python,
        "-m",
        "locust",
        "-f",
        str(options.locustfile),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(options.spawn_rate or users),
        "-t",
        _seconds_arg(traffic.time_budget_s),
        "--host",
        gateway_url.rstrip("/"),
        "--scenario",
        str(scenario_path),
        "--probe",
        probe.name,
        "--page-path",
        traffic.path,
        "--verdict-json",
        str(verdict_json),
        "--csv",
        str(csv_prefix),
        "--only-summary",
        "--stop-timeout",
        "0",
    ]
    if traffic.user is not None:
        command += ["--login-user", traffic.user]
    if alpha is not None:
        command += ["--alpha", repr(alpha)]
    if beta is not None:
        command += ["--beta", repr(beta)]
    if traffic.rate_rps:
        command += ["--user-rate", repr(traffic.rate_rps / users)]
    if options.processes:
        command += ["--processes", str(options.processes)]
    return command + list(options.extra_args)


def run_locust_probe(
    gateway_url: str,
    scenario: Scenario,
    probe: Probe,
    *,
    workdir: Path,
    alpha: float | None = None,
    beta: float | None = None,
    options: LocustOptions = LocustOptions(),
) -> LocustProbeResult:
    """Drive ``probe`` of ``scenario`` (already applied to the target) with Locust in a child process.

    Blocks until Locust exits (every test decided, or the probe's time budget ran out). Raises DriverError
    when Locust fails to produce a run document. ``workdir`` receives ``<probe>.verdict.json``, the CSV
    files and ``<probe>.locust.log``.
    """
    if scenario.path is None:
        raise DriverError(f"scenario {scenario.name!r} has no file: the Locust driver passes it by path")
    workdir.mkdir(parents=True, exist_ok=True)
    stem = f"{scenario.name}.{probe.name}"
    verdict_json = workdir / f"{stem}.verdict.json"
    csv_prefix = workdir / stem
    log_path = workdir / f"{stem}.locust.log"
    verdict_json.unlink(missing_ok=True)
    command = locust_command(
        gateway_url,
        Path(scenario.path).resolve(),
        probe,
        verdict_json=verdict_json,
        csv_prefix=csv_prefix,
        alpha=alpha,
        beta=beta,
        options=options,
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **options.env}
    timeout = probe.traffic.time_budget_s + STARTUP_ALLOWANCE_S
    started = time.monotonic()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)  # Locust's SIGTERM handler still writes the document
            try:
                code = proc.wait(timeout=STARTUP_ALLOWANCE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    document = read_document(verdict_json, log_path, code)
    scenario_doc = document["scenarios"][0]
    entry = next((p for p in scenario_doc["probes"] if p["name"] == probe.name), None)
    if entry is None:
        raise DriverError(f"Locust's run document has no probe {probe.name!r} ({verdict_json})")
    return LocustProbeResult(
        name=probe.name,
        user=entry["user"],
        reviews=verdict_from_json(entry["reviews"]) if entry["reviews"] else None,
        pages=verdict_from_json(entry["pages"]) if entry["pages"] else None,
        requests=int(entry["requests"]),
        seconds=float(entry["seconds"]) or (time.monotonic() - started),
        stopped_by=str(entry["stopped_by"]),
        exit_code=code,
        document=document,
        verdict_json=verdict_json,
        csv_prefix=csv_prefix,
        log=log_path,
    )


def read_document(path: Path, log_path: Path, code: int) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        tail = _tail(log_path)
        raise DriverError(
            f"Locust exited with code {code} without a run document; last output:\n{tail}"
        ) from None
    if not isinstance(document, dict) or not document.get("scenarios"):
        raise DriverError(f"{path}: not a run document")
    return document


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.strip().splitlines()[-lines:])


def command_text(command: Sequence[str]) -> str:
    """A shell-quoted rendering of a command, for logs."""
    import shlex

    return " ".join(shlex.quote(part) for part in command)
