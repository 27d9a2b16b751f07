"""The lab: an embedded Istio mesh on loopback that runs Bookinfo from Kubernetes manifests.

`Lab` is an async context manager that owns every part: the object store, the Kubernetes API (HTTPS with a
bearer token), the workload controller (pods as loopback listeners), the mesh (sidecars, ingress gateway,
telemetry) and an admin listener serving `/metrics`. It starts where the exercise starts: Istio installed
(namespace istio-system with istiod and the ingress gateway), namespace `default` empty.

`LabThread` runs a Lab on its own event loop in a background thread, for synchronous callers and tests.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import random
import secrets
import tempfile
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from harness.errors import LabError
from harness.lab.http import Handler, HttpRequest, HttpResponse
from harness.lab.kubeapi import KubeApiConfig, KubeApiServer
from harness.lab.mesh import AiohttpTransport, MemoryTransport, Mesh, MeshOptions, Telemetry, validate
from harness.lab.podserver import Listener
from harness.lab.store import ObjectStore, StoreError
from harness.lab.topology import Endpoint
from harness.lab.workloads import WorkloadController
from harness.model import Era
from harness.paths import MANIFESTS_DIR

log = logging.getLogger(__name__)
T = TypeVar("T")

ISTIO_GROUP = "networking.istio.io"
MESH_KINDS = {
    "Service",
    "Namespace",
    "Gateway",
    "VirtualService",
    "DestinationRule",
    "ServiceEntry",
    "Sidecar",
}
BASE_MANIFESTS = ("bookinfo.yaml",)


@dataclass
class LabOptions:
    host: str = "127.0.0.1"
    gateway_port: int = 0
    api_port: int = 0
    admin_port: int = 0
    era: Era = Era.B
    seed: int | None = None
    with_bookinfo: bool = False
    kubeconfig: Path | None = None  # where to write the kubeconfig (default: in state_dir)
    state_dir: Path | None = None  # certificates, kubeconfig; a temporary folder when None
    mesh: MeshOptions = field(default_factory=MeshOptions)
    # How sidecars reach pods: "memory" calls the pod's handler chain in process (the pods still listen
    # on their own ports for direct access); "tcp" sends every hop over a loopback socket.
    transport: str = "memory"


@dataclass(frozen=True)
class LabInfo:
    """How to reach a running lab (also written as JSON for other processes)."""

    gateway_url: str
    api_url: str
    metrics_url: str
    kubeconfig: str
    pid: int
    prometheus_url: str | None = None  # a real Prometheus scraping the lab (`lab --prometheus`)

    def to_json(self) -> dict[str, object]:
        return {
            "gateway_url": self.gateway_url,
            "api_url": self.api_url,
            "metrics_url": self.metrics_url,
            "kubeconfig": self.kubeconfig,
            "pid": self.pid,
            "prometheus_url": self.prometheus_url,
        }


def _system_pod(name: str, namespace: str, labels: dict[str, str], image: str, host: str) -> dict:
    container = name.rsplit("-", 2)[0]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"containers": [{"name": container, "image": image}], "nodeName": "lab-node"},
        "status": {
            "phase": "Running",
            "hostIP": host,
            "podIP": host,
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [
                {
                    "name": container,
                    "image": image,
                    "imageID": f"{image}@sha256:lab",
                    "ready": True,
                    "restartCount": 0,
                    "started": True,
                    "state": {"running": {}},
                }
            ],
        },
    }


class Lab:
    """The embedded mesh. Use `async with Lab(options) as lab:`; `lab.info` says where everything listens."""

    def __init__(self, options: LabOptions | None = None) -> None:
        self.options = options or LabOptions()
        if self.options.transport not in ("memory", "tcp"):
            raise LabError(f"unknown lab transport {self.options.transport!r} (memory or tcp)")
        self.rng = random.Random(self.options.seed)
        self.store = ObjectStore()
        self.telemetry = Telemetry()
        self._transport: AiohttpTransport | MemoryTransport
        self._transport = MemoryTransport() if self.options.transport == "memory" else AiohttpTransport()
        self.mesh = Mesh(
            rng=self.rng, telemetry=self.telemetry, transport=self._transport, options=self.options.mesh
        )
        self.controller = WorkloadController(
            self.store,
            self.mesh,
            rng=self.rng,
            era=self.options.era,
            host=self.options.host,
            on_endpoints=self._refresh_mesh,
            in_memory=self._transport.handlers if isinstance(self._transport, MemoryTransport) else None,
        )
        self.token = secrets.token_urlsafe(32)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.state_dir = self.options.state_dir
        self.api: KubeApiServer | None = None
        self.gateway_listener: Listener | None = None
        self.admin_listener: Listener | None = None
        self.info: LabInfo | None = None
        self._gateway_endpoint: Endpoint | None = None
        self._config_rv = 0
        self.admin_routes: dict[str, Handler] = {}
        # awaited in reverse order by stop(): extensions (Prometheus, ...) register their teardown here
        self.on_stop: list[Callable[[], Awaitable[None]]] = []
        from harness.lab import traces  # imports Lab for typing only; installed here so every lab has traces

        self.spans = traces.install(self)
        self._mesh_rv = 0

    # -- lifecycle -------------------------------------------------------------------------------------------
    async def __aenter__(self) -> Lab:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        if self.state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="bookinfo-lab-")
            self.state_dir = Path(self._tmp.name)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.store.admission.append(self._validate_istio)
        self.store.subscribe(self._on_event)
        opts = self.options
        try:
            self._install_istio()
            self.gateway_listener = Listener(
                self._gateway, host=opts.host, port=opts.gateway_port, name="gateway"
            )
            await self.gateway_listener.start()
            self._publish_gateway_port(self.gateway_listener.port)
            self.admin_listener = Listener(self._admin, host=opts.host, port=opts.admin_port, name="admin")
            await self.admin_listener.start()
            from harness.lab import ui

            ui.install(self)
            self.api = KubeApiServer(
                self.store,
                KubeApiConfig(
                    host=opts.host, port=opts.api_port, token=self.token, cert_dir=self.state_dir / "pki"
                ),
                self.controller,
            )
            await self.api.start()
        except OSError as exc:
            await self.stop()
            raise LabError(
                f"the lab could not bind its listeners on {opts.host}: {exc.strerror or exc}"
            ) from exc
        kubeconfig = opts.kubeconfig or self.state_dir / "kubeconfig"
        self.api.write_kubeconfig(kubeconfig)
        await self.controller.start()
        if opts.with_bookinfo:
            self.apply_files([MANIFESTS_DIR / name for name in BASE_MANIFESTS])
            await self.controller.settle()
        self._refresh_mesh()
        self.info = LabInfo(
            gateway_url=f"http://{opts.host}:{self.gateway_listener.port}",
            api_url=self.api.url,
            metrics_url=f"http://{opts.host}:{self.admin_listener.port}/metrics",
            kubeconfig=str(kubeconfig),
            pid=os.getpid(),
        )
        if opts.host not in ("127.0.0.1", "localhost", "::1") and not opts.host.startswith("127."):
            log.warning(
                "the lab listens on %s, which is not loopback: anyone who can reach it can use it", opts.host
            )

    async def stop(self) -> None:
        for hook in reversed(self.on_stop):
            try:
                await hook()
            except Exception:  # one failing teardown must not keep the rest of the lab running
                log.exception("lab stop hook failed")
        self.on_stop.clear()
        await self.controller.stop()
        for listener in (self.gateway_listener, self.admin_listener):
            if listener is not None:
                await listener.stop()
        if self.api is not None:
            await self.api.stop()
        if isinstance(self._transport, AiohttpTransport):
            await self._transport.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    async def settle(self) -> None:
        """Wait until pods match the applied Deployments (used after changes made in-process)."""
        await self.controller.settle()

    # -- configuration ---------------------------------------------------------------------------------------
    def apply_objects(self, objects: Iterable[dict], namespace: str = "default") -> None:
        """Create or replace objects directly in the store (as `kubectl apply` would)."""
        for obj in objects:
            obj = dict(obj)
            meta = obj.setdefault("metadata", {})
            if obj.get("kind") != "Namespace":
                meta.setdefault("namespace", namespace)
            live = self.store.get(obj["kind"], meta.get("namespace"), meta["name"])
            if live is None:
                self.store.create(obj)
            else:
                obj["metadata"] = {**live["metadata"], **meta}
                obj["metadata"].pop("resourceVersion", None)
                self.store.update(obj, check_version=False)

    def apply_files(self, paths: Iterable[Path], namespace: str = "default") -> None:
        for path in paths:
            docs = [d for d in yaml.safe_load_all(Path(path).read_text()) if d]
            self.apply_objects(docs, namespace)

    def _validate_istio(self, obj: dict, old: dict | None) -> None:
        if not str(obj.get("apiVersion", "")).startswith(ISTIO_GROUP + "/"):
            return
        errors = validate(obj, options=self.options.mesh)
        if errors:
            name = obj.get("metadata", {}).get("name", "")
            kind = obj.get("kind", "")
            causes = [{"reason": "FieldValueInvalid", "message": e.message, "field": e.field} for e in errors]
            message = "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in errors)
            raise StoreError(
                422,
                "Invalid",
                'admission webhook "validation.istio.io" denied the request: '
                f"configuration is invalid: {message}",
                {"name": name, "group": ISTIO_GROUP, "kind": kind, "causes": causes},
            )

    def _on_event(self, event_type: str, obj: dict, old: dict | None) -> None:
        if obj.get("kind") in MESH_KINDS:
            self._config_rv = self.store.resource_version
            self._refresh_mesh()

    @property
    def synced(self) -> bool:
        """True when the mesh serves every configuration change and the pods match their Deployments."""
        return self._mesh_rv >= self._config_rv and self.controller.idle

    def _refresh_mesh(self) -> None:
        self._mesh_rv = self.store.resource_version
        endpoints = self.controller.endpoints()
        if self._gateway_endpoint is not None:
            endpoints = [*endpoints, self._gateway_endpoint]
        self.mesh.update(self.store.snapshot(), endpoints)

    # -- istio-system ----------------------------------------------------------------------------------------
    def _install_istio(self) -> None:
        for name, labels in (
            ("istio-system", {"kubernetes.io/metadata.name": "istio-system"}),
            ("default", {"kubernetes.io/metadata.name": "default"}),
        ):
            self.store.create(
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": name, "labels": labels},
                    "status": {"phase": "Active"},
                }
            )
        host = self.options.host
        suffix = "".join(self.rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
        gw_labels = {"app": "istio-ingressgateway", "istio": "ingressgateway"}
        gw_pod = f"istio-ingressgateway-5b8f9c7d6d-{suffix}"
        self.store.create(
            _system_pod(gw_pod, "istio-system", gw_labels, "docker.io/istio/proxyv2:1.17.2", host)
        )
        self.store.create(
            _system_pod(
                f"istiod-7d4b6c7f8c-{suffix}",
                "istio-system",
                {"app": "istiod", "istio": "pilot"},
                "docker.io/istio/pilot:1.17.2",
                host,
            )
        )
        self.store.create(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "istiod", "namespace": "istio-system", "labels": {"app": "istiod"}},
                "spec": {
                    "type": "ClusterIP",
                    "clusterIP": "10.96.0.20",
                    "selector": {"app": "istiod"},
                    "ports": [{"name": "grpc-xds", "port": 15010, "protocol": "TCP", "targetPort": 15010}],
                },
            }
        )
        self._gateway_endpoint = Endpoint(
            pod=gw_pod,
            namespace="istio-system",
            labels=gw_labels,
            address="",
            workload="istio-ingressgateway",
            service_account="istio-ingressgateway-service-account",
            injected=True,
            ready=True,
        )

    def _publish_gateway_port(self, port: int) -> None:
        self.store.create(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": "istio-ingressgateway",
                    "namespace": "istio-system",
                    "labels": {"app": "istio-ingressgateway", "istio": "ingressgateway"},
                },
                "spec": {
                    "type": "NodePort",
                    "clusterIP": "10.96.0.30",
                    "selector": {"app": "istio-ingressgateway", "istio": "ingressgateway"},
                    "ports": [
                        {"name": "status-port", "port": 15021, "protocol": "TCP", "targetPort": 15021},
                        {
                            "name": "http2",
                            "port": 80,
                            "protocol": "TCP",
                            "targetPort": 8080,
                            "nodePort": port,
                        },
                        {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443},
                    ],
                },
            }
        )
        assert self._gateway_endpoint is not None
        self._gateway_endpoint = dataclasses.replace(
            self._gateway_endpoint, address=f"{self.options.host}:{port}"
        )
        self._gateway_handler = self.mesh.gateway(self._gateway_endpoint)

    async def _gateway(self, request: HttpRequest) -> HttpResponse:
        return await self._gateway_handler(request)

    def add_admin_route(self, prefix: str, handler: Handler) -> None:
        """Serve `handler` on the admin listener for paths equal to or under `prefix` (e.g. "/ui")."""
        self.admin_routes[prefix.rstrip("/")] = handler

    async def _admin(self, request: HttpRequest) -> HttpResponse:
        path = request.path_only
        for prefix, handler in self.admin_routes.items():
            if path == prefix or path.startswith(prefix + "/"):
                return await handler(request)
        if path == "/metrics":
            return HttpResponse(
                200,
                [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
                self.telemetry.render().encode(),
            )
        if path == "/debug/syncz":
            body = {
                "synced": self.synced,
                "meshResourceVersion": self._mesh_rv,
                "configResourceVersion": self._config_rv,
            }
            return HttpResponse(200, [("content-type", "application/json")], json.dumps(body).encode())
        if path in ("/healthz", "/readyz"):
            return HttpResponse(200, [("content-type", "text/plain")], b"ok\n")
        if path == "/info" and self.info is not None:
            return HttpResponse(
                200, [("content-type", "application/json")], json.dumps(self.info.to_json()).encode()
            )
        return HttpResponse(404, [("content-type", "text/plain")], b"not found\n")


class LabThread:
    """Run a Lab on a private event loop in a daemon thread (for synchronous code and tests)."""

    def __init__(self, options: LabOptions | None = None) -> None:
        self.lab = Lab(options)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="bookinfo-lab", daemon=True)

    def __enter__(self) -> Lab:
        self._thread.start()
        try:
            self.call(self.lab.start())
        except BaseException:
            self.__exit__()
            raise
        return self.lab

    def __exit__(self, *exc: object) -> None:
        if self._thread.is_alive():
            try:
                self.call(self.lab.stop(), timeout=15)
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self._thread.join(timeout=5)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run a coroutine on the lab's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a plain function on the lab's loop (the store is not thread-safe)."""

        async def _call() -> T:
            return fn(*args)

        return self.call(_call())
