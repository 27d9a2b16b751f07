"""Test helpers: the lab API server on 127.0.0.1:0 in a background thread (own loop), a fresh store each.

The kubernetes client and kubectl are synchronous, so the server runs on its own loop in a thread; tests
touch the store only through `Lab.call`, which runs a function on that loop.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes import client, config

from harness.lab.kubeapi import KubeApiConfig, KubeApiServer
from harness.lab.store import ObjectStore

T = TypeVar("T")
KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl binary not installed")


@dataclass
class FakeLogs:
    """A LogSource over a dict: (namespace, pod, container) → text."""

    logs: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def pod_log(self, namespace: str, pod: str, container: str, *, tail_lines: int | None) -> str | None:
        text = self.logs.get((namespace, pod, container))
        if text is None:
            return None
        if tail_lines is not None:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-tail_lines:]) if tail_lines else ""
        return text


class Lab:
    """A running server plus helpers for the store, the Python client and kubectl."""

    def __init__(self, tmp: Path, clock: Callable[[], datetime]) -> None:
        self.tmp = tmp
        self.store = ObjectStore(clock=clock)
        self.logs = FakeLogs()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="kubeapi-test", daemon=True)
        self.thread.start()
        self.server = KubeApiServer(self.store, KubeApiConfig(cert_dir=tmp / "certs"), self.logs)
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        self.kubeconfig = self.server.write_kubeconfig(tmp / "kubeconfig")
        self.home = tmp / "home"
        self.home.mkdir()
        self.call(self.store.ensure_namespace, "default")
        self.call(self.store.ensure_namespace, "istio-system")
        self._api: client.ApiClient | None = None

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn` on the server's loop (where the store lives) and return its result."""
        fut: Future[T] = Future()

        def run() -> None:
            try:
                fut.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                fut.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return fut.result(10)

    @property
    def api(self) -> client.ApiClient:
        if self._api is None:
            cfg = client.Configuration()
            config.load_kube_config(config_file=str(self.kubeconfig), client_configuration=cfg)
            self._api = client.ApiClient(cfg)
        return self._api

    def kubectl(
        self, *args: str, stdin: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        assert KUBECTL is not None
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "KUBECONFIG": str(self.kubeconfig),
            "KUBECACHEDIR": str(self.home / "cache"),
            "CLOUDSDK_CONFIG": str(self.home / "gcloud"),
            "LANG": "C.UTF-8",
        }
        return subprocess.run(
            [KUBECTL, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    lab = Lab(tmp_path, clock=lambda: NOW)
    try:
        yield lab
    finally:
        lab.close()


def make_pod(
    name: str,
    *,
    app: str = "productpage",
    version: str = "v1",
    containers: tuple[str, ...] = ("productpage", "istio-proxy"),
    ready: bool = True,
    restarts: int = 0,
    namespace: str = "default",
    created: datetime | None = None,
) -> dict[str, Any]:
    """A Pod complete enough for the pydantic models (containerStatuses with every required field)."""
    ts = (created or NOW - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": app, "version": version}},
        "spec": {
            "containers": [{"name": c, "image": f"docker.io/istio/{c}:1.17.0"} for c in containers],
            "nodeName": "lab-node",
        },
        "status": {
            "phase": "Running",
            "podIP": "10.244.0.16",
            "startTime": ts,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [
                {
                    "name": c,
                    "image": f"docker.io/istio/{c}:1.17.0",
                    "imageID": f"docker.io/istio/{c}@sha256:{'0' * 64}",
                    "ready": ready,
                    "restartCount": restarts,
                    "started": True,
                    "state": {"running": {"startedAt": ts}},
                }
                for c in containers
            ],
        },
    }


def make_deployment(name: str, app: str, version: str = "v1", replicas: int = 1) -> dict[str, Any]:
    labels = {"app": app, "version": version}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {"name": app, "image": f"docker.io/istio/examples-bookinfo-{app}-{version}"}
                    ]
                },
            },
        },
        "status": {
            "replicas": replicas,
            "readyReplicas": replicas,
            "updatedReplicas": replicas,
            "availableReplicas": replicas,
            "observedGeneration": 1,
        },
    }
