"""Helpers for the Locust tests: a lab with Bookinfo routed by a scenario, and Locust as a subprocess.

Never imports locust: Locust only ever runs in child processes (`python -m locust`), so gevent's
monkey-patching stays out of the pytest process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import yaml

from harness.classify import classify_response
from harness.drivers.locust import LOCUSTFILE
from harness.paths import ROOT, SCENARIOS_DIR
from harness.scenario import load_scenario
from harness.target import load_items

ARTIFACTS = ROOT / "artifacts"


def scenario_path(name: str) -> Path:
    return next(p for p in sorted(SCENARIOS_DIR.glob("*.yaml")) if p.stem.split("-", 1)[-1] == name)


def kubectl_apply(kubeconfig: str, objects: Sequence[dict]) -> None:
    """`kubectl apply -f -` against the lab (the exercise's own path, independent of the Python client)."""
    text = yaml.safe_dump_all(list(objects), sort_keys=False)
    proc = subprocess.run(
        ["kubectl", "apply", "-f", "-"],
        input=text,
        text=True,
        capture_output=True,
        env={**os.environ, "KUBECONFIG": kubeconfig},
        timeout=60,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"kubectl apply failed: {proc.stderr.strip()}")


def wait_synced(metrics_url: str, timeout_s: float = 20.0) -> None:
    url = metrics_url.rsplit("/", 1)[0] + "/debug/syncz"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if json.loads(response.read()).get("synced"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"the lab's mesh did not sync within {timeout_s} s")


def wait_serving(gateway_url: str, allowed: set[str], consecutive: int = 10, timeout_s: float = 30.0) -> None:
    """Wait for `consecutive` pages in a row whose reviews version is allowed (the config is served)."""
    deadline = time.monotonic() + timeout_s
    streak = 0
    while time.monotonic() < deadline and streak < consecutive:
        try:
            with urllib.request.urlopen(gateway_url + "/productpage", timeout=5) as response:
                outcome = classify_response(
                    response.status, response.read(), response.headers.get("Content-Type")
                )
        except OSError:
            outcome = None
        streak = streak + 1 if outcome is not None and outcome.version.value in allowed else 0
        if streak < consecutive:
            time.sleep(0.02)
    if streak < consecutive:
        raise TimeoutError(f"the gateway did not serve {sorted(allowed)} pages within {timeout_s} s")


def apply_scenario(info: object, name: str, *, setup: bool = True) -> dict[str, float]:
    """Apply a scenario's setup (optionally) and change with kubectl; return its anonymous reviews split."""
    scenario = load_scenario(scenario_path(name))
    items = (list(scenario.setup) if setup else []) + list(scenario.apply)
    kubectl_apply(info.kubeconfig, load_items(items))  # type: ignore[attr-defined]
    wait_synced(info.metrics_url)  # type: ignore[attr-defined]
    expected = dict(scenario.intent_reviews or {})
    wait_serving(info.gateway_url, {v for v, s in expected.items() if s > 0})  # type: ignore[attr-defined]
    return expected


def locust_command(*args: str, locustfile: Path = LOCUSTFILE) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(locustfile), "--skip-log-setup", *args]


def locust_env() -> dict[str, str]:
    # Locust's own pytest plugin must never load in a child pytest either; these keep its output plain.
    return {**os.environ, "PYTHONUNBUFFERED": "1", "LOCUST_SKIP_MONKEY_PATCH": "", "NO_COLOR": "1"}


def run_locust(
    args: Sequence[str], *, timeout_s: float = 60.0, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        locust_command(*args), capture_output=True, text=True, timeout=timeout_s, cwd=cwd, env=locust_env()
    )


def csv_rows(prefix: Path) -> dict[tuple[str, str], dict[str, str]]:
    """Locust's `<prefix>_stats.csv` keyed by (Type, Name)."""
    import csv

    with Path(f"{prefix}_stats.csv").open(newline="") as handle:
        return {(row["Type"], row["Name"]): row for row in csv.DictReader(handle)}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
