"""Shared helpers of the reliability tests: the CLI as a subprocess, lab snapshots, tiny local servers."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from harness.kube import RESOURCES, KubeClient
from harness.paths import MANIFESTS_DIR

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def cli(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=ENV,
        stdin=subprocess.DEVNULL,
    )


def cluster_run(kubeconfig: str | Path, journal: str | Path) -> tuple[str, ...]:
    """The start of `bookinfo-harness run` against a kubeconfig (the lab as a cluster), journalled."""
    return ("run", "--target", "cluster", "--kubeconfig", str(kubeconfig), "--journal", str(journal))


def start_cli(*args: str, log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *args],
        stdout=handle,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=ENV,
    )


def error_lines(stderr: str) -> list[str]:
    """The lines that report a problem (progress lines such as "▶ name" are not)."""
    return [
        line
        for line in stderr.splitlines()
        if line.startswith(("bookinfo-harness: error:", "WARNING", "ERROR", "restore:"))
    ]


def assert_one_clear_line(done: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    """Exit `code`, no traceback, exactly one problem line on stderr, and it names every needle."""
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    assert done.returncode == code, f"exit {done.returncode}, wanted {code}\n{done.stderr}\n{done.stdout}"
    lines = error_lines(done.stderr)
    assert len(lines) == 1, f"wanted one problem line on stderr, got {lines}\n{done.stderr}"
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


def wait_for(check: Callable[[], object], timeout_s: float, what: str, poll_s: float = 0.05) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def journal_entries(path: Path) -> list[dict]:
    try:
        return json.loads(path.read_text()).get("entries", [])
    except (OSError, ValueError):
        return []


def requests_served(metrics_url: str) -> float:
    """Requests the lab's gateway has answered so far (istio_requests_total at the ingress gateway)."""
    text = httpx.get(metrics_url, timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("istio_requests_total{") and 'source_workload="istio-ingressgateway"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


# -- snapshots ---------------------------------------------------------------------------------------------
SNAPSHOT_NAMESPACES = ("default", "istio-system")


def snapshot(kube: KubeClient) -> dict[str, object]:
    """Every object the lab serves (kind, name, spec, labels, data), ReplicaSets aside.

    Pods are re-created by their Deployment when a template is put back, with new random names, so pods
    are compared by what they run (labels incl. pod-template-hash, and containers), not by name.
    ReplicaSets are the Deployment controller's history (a cluster keeps old ones too) and are left out.
    """
    objects: dict[str, object] = {}
    pods: list[str] = []
    for kind, res in RESOURCES.items():
        if kind == "ReplicaSet":
            continue
        for namespace in SNAPSHOT_NAMESPACES if res.namespaced else (None,):
            for obj in kube.list(kind, namespace):
                meta = obj.get("metadata", {})
                labels = meta.get("labels") or {}
                if kind == "Pod":
                    containers = [(c.get("name"), c.get("image")) for c in obj["spec"].get("containers", [])]
                    pods.append(json.dumps([namespace, labels, containers], sort_keys=True))
                    continue
                key = f"{kind} {namespace}/{meta['name']}"
                objects[key] = {
                    "spec": obj.get("spec"),
                    "labels": labels,
                    "data": obj.get("data"),
                    "annotations": {
                        k: v
                        for k, v in (meta.get("annotations") or {}).items()
                        if not k.startswith(("kubectl.kubernetes.io/", "deployment.kubernetes.io/"))
                    },
                }
    objects["pods"] = sorted(pods)
    return objects


def diff(before: dict[str, object], after: dict[str, object]) -> list[str]:
    out = [f"gone: {k}" for k in before if k not in after]
    out += [f"left behind: {k}" for k in after if k not in before]
    out += [
        f"changed: {k}: {before[k]} -> {after[k]}" for k in before if k in after and before[k] != after[k]
    ]
    return out


def slow_scenario(directory: Path, *, rate_rps: float = 40) -> Path:
    """09-reviews-50-50 with rate-limited, practically unbounded traffic: mid-traffic for a long while."""
    m = MANIFESTS_DIR
    path = directory / "slow-50-50.yaml"
    path.write_text(
        f"""name: slow-50-50
description: reviews 50/50 at a low rate, so that a test can interrupt it mid-traffic
setup:
- {m}/bookinfo-gateway.yaml
- {m}/destination-rule-all.yaml
- {{file: {m}/bookinfo.yaml, inject: true}}
- {{file: {m}/reviews-v2.yaml, inject: true}}
- {{file: {m}/reviews-v3.yaml, inject: true}}
- {m}/virtual-service-all-v1.yaml
apply: [{m}/virtual-service-reviews-50-50.yaml]
traffic: {{max_requests: 1000000, rate_rps: {rate_rps}, time_budget_s: 600, concurrency: 2}}
expect:
  reviews: {{v1: 0.5, v3: 0.5}}
tolerance: 0.01
"""
    )
    return path


def start_slow_run(kubeconfig: str | Path, directory: Path) -> tuple[subprocess.Popen[bytes], Path, Path]:
    """Start a journalled run of :func:`slow_scenario` in the background: (process, journal, log)."""
    journal, log = directory / "journal.json", directory / "run.log"
    proc = start_cli(
        *cluster_run(kubeconfig, journal), "--no-progress", str(slow_scenario(directory)), log=log
    )
    return proc, journal, log


# -- tiny servers ------------------------------------------------------------------------------------------
def free_port() -> int:
    """A loopback port with nothing listening (bound, read and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def tiny_server(respond: Callable[[http.server.BaseHTTPRequestHandler], None]) -> Iterator[str]:
    """A threaded HTTP server on 127.0.0.1 whose every GET/POST/PATCH/PUT/DELETE calls `respond`."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            try:
                respond(self)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def reply(handler: http.server.BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
