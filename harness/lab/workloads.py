"""The lab's workload controller: Deployments become ReplicaSets and running pods.

Each pod is a real HTTP listener on 127.0.0.1 running the Bookinfo app its image names. The controller
watches the object store, converges pods to each Deployment's replicas and template (a changed template rolls
the pods under a new pod-template hash), decides injection when a pod is created, and tells the mesh which
endpoints exist. Pods of images the lab does not emulate stay Pending with the reason in their status.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from harness.lab import bookinfo
from harness.lab.http import Handler, HttpRequest, HttpResponse, PodContext
from harness.lab.injection import has_proxy, inject_template, wants_sidecar
from harness.lab.names import random_suffix, template_hash
from harness.lab.podserver import Listener
from harness.lab.topology import Endpoint
from harness.model import Era

if TYPE_CHECKING:
    from harness.lab.mesh import Mesh
    from harness.lab.store import ObjectStore

log = logging.getLogger(__name__)

APP_LOG_LINES = 5000


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class PodRuntime:
    """A running pod: its listener, the endpoint the mesh sees, and its application log."""

    name: str
    namespace: str
    listener: Listener
    endpoint: Endpoint
    app_container: str
    app_log: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=APP_LOG_LINES))


class WorkloadController:
    """Converges Pods to Deployments and runs them. All methods run on the lab's event loop."""

    def __init__(
        self,
        store: ObjectStore,
        mesh: Mesh,
        *,
        rng: random.Random,
        era: Era,
        host: str = "127.0.0.1",
        on_endpoints: Callable[[], None] | None = None,
        in_memory: dict[str, Handler] | None = None,
    ) -> None:
        self._store = store
        self._mesh = mesh
        self._rng = rng
        self._era = era
        self._host = host
        self._on_endpoints = on_endpoints
        # When the mesh uses the in-memory transport, pod addresses map to the same handler chain their
        # listeners serve (inbound sidecar + app), so mesh hops skip the loopback sockets.
        self._in_memory = in_memory
        self.pods: dict[tuple[str, str], PodRuntime] = {}
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    # -- lifecycle -------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._unsubscribe = self._store.subscribe(self._on_event)
        self._task = asyncio.create_task(self._loop(), name="workload-controller")
        self._dirty.set()
        await self.settle()

    async def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for runtime in list(self.pods.values()):
            await self._stop_runtime(runtime)
        self.pods.clear()

    async def settle(self, timeout_s: float = 10.0) -> None:
        """Wait until the controller has acted on every change made so far."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            await asyncio.sleep(0)
            if not self._dirty.is_set() and self._idle.is_set():
                return
            await asyncio.sleep(0.005)

    @property
    def idle(self) -> bool:
        return not self._dirty.is_set() and self._idle.is_set()

    def endpoints(self) -> list[Endpoint]:
        return [runtime.endpoint for runtime in self.pods.values()]

    def pod_log(
        self, namespace: str, pod: str, container: str, *, tail_lines: int | None = None
    ) -> str | None:
        runtime = self.pods.get((namespace, pod))
        obj = self._store.get("Pod", namespace, pod)
        if obj is None:
            return None
        names = [c.get("name") for c in obj.get("spec", {}).get("containers", [])]
        names += [c.get("name") for c in obj.get("spec", {}).get("initContainers", []) or []]
        if container not in names:
            return None
        if runtime is None:
            lines: list[str] = []
        elif container == "istio-proxy":
            lines = self._mesh.access_log(pod)
        elif container == runtime.app_container:
            lines = list(runtime.app_log)
        else:
            lines = []
        if tail_lines is not None:
            lines = lines[-tail_lines:] if tail_lines > 0 else []
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)

    # -- reconciliation --------------------------------------------------------------------------------------
    def _on_event(self, event_type: str, obj: dict, old: dict | None) -> None:
        if obj.get("kind") in ("Deployment", "Pod", "Namespace"):
            self._dirty.set()

    async def _loop(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            self._idle.clear()
            try:
                await self._reconcile()
            except Exception:  # keep the controller alive; the next change retries
                log.exception("workload reconcile failed")
            finally:
                self._idle.set()

    async def _reconcile(self) -> None:
        deployments = {
            (d["metadata"]["namespace"], d["metadata"]["name"]): d for d in self._store.list("Deployment")
        }
        pods = self._store.list("Pod")
        by_owner: dict[tuple[str, str], list[dict]] = collections.defaultdict(list)
        for pod in pods:
            owner = pod["metadata"].get("labels", {}).get("lab.bookinfo-harness.io/deployment")
            if owner:
                by_owner[(pod["metadata"]["namespace"], owner)].append(pod)
        changed = False
        for key, deployment in deployments.items():
            changed |= await self._reconcile_deployment(deployment, by_owner.get(key, []))
        for key, owned in by_owner.items():
            if key not in deployments:
                for pod in owned:
                    self._delete_pod(pod)
                    changed = True
        for rs in self._store.list("ReplicaSet"):  # ReplicaSets of deleted Deployments go with them
            owner = rs["metadata"].get("labels", {}).get("lab.bookinfo-harness.io/deployment")
            if owner and (rs["metadata"]["namespace"], owner) not in deployments:
                self._store.delete("ReplicaSet", rs["metadata"]["namespace"], rs["metadata"]["name"])
        # Pods deleted through the API: stop their listeners.
        live = {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in self._store.list("Pod")}
        for key in [k for k in self.pods if k not in live]:
            await self._stop_runtime(self.pods.pop(key))
            changed = True
        if changed and self._on_endpoints:
            self._on_endpoints()

    async def _reconcile_deployment(self, deployment: dict, owned: list[dict]) -> bool:
        meta = deployment["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        spec = deployment.get("spec", {})
        template = spec.get("template", {})
        replicas = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        pod_hash = template_hash(template)
        current = [p for p in owned if p["metadata"]["labels"].get("pod-template-hash") == pod_hash]
        stale = [p for p in owned if p["metadata"]["labels"].get("pod-template-hash") != pod_hash]
        changed = False
        self._ensure_replicaset(deployment, pod_hash, replicas)
        while len(current) < replicas:
            current.append(await self._create_pod(deployment, template, pod_hash))
            changed = True
        for pod in current[replicas:]:
            self._delete_pod(pod)
            changed = True
        current = current[:replicas]
        for pod in stale:  # the new pods are already serving: retire the old ones
            self._delete_pod(pod)
            changed = True
        for pod in current:
            if (namespace, pod["metadata"]["name"]) not in self.pods and self._pod_is_runnable(pod):
                await self._start_pod(pod)
                changed = True
        ready = sum(1 for p in current if (namespace, p["metadata"]["name"]) in self.pods)
        status = {
            "observedGeneration": meta.get("generation", 1),
            "replicas": len(current),
            "updatedReplicas": len(current),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "conditions": [
                {
                    "type": "Available",
                    "status": "True" if ready >= replicas else "False",
                    "reason": "MinimumReplicasAvailable"
                    if ready >= replicas
                    else "MinimumReplicasUnavailable",
                    "lastUpdateTime": _now(),
                    "lastTransitionTime": _now(),
                }
            ],
        }
        if ready != replicas:
            status["unavailableReplicas"] = replicas - ready
        old = deployment.get("status", {})
        comparable = {k: v for k, v in status.items() if k != "conditions"}
        if {k: old.get(k) for k in comparable} != comparable:
            self._store.set_status("Deployment", namespace, name, status)
        return changed

    def _ensure_replicaset(self, deployment: dict, pod_hash: str, replicas: int) -> None:
        meta = deployment["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        rs_name = f"{name}-{pod_hash}"
        for rs in self._store.list("ReplicaSet", namespace):
            owner = rs["metadata"].get("labels", {}).get("lab.bookinfo-harness.io/deployment")
            if owner == name and rs["metadata"]["name"] != rs_name and rs.get("spec", {}).get("replicas"):
                rs["spec"]["replicas"] = 0
                self._store.update(rs, check_version=False)
        existing = self._store.get("ReplicaSet", namespace, rs_name)
        template = copy.deepcopy(deployment["spec"].get("template", {}))
        labels = dict(template.get("metadata", {}).get("labels", {}))
        labels["pod-template-hash"] = pod_hash
        if existing is None:
            self._store.create(
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "metadata": {
                        "name": rs_name,
                        "namespace": namespace,
                        "labels": {**labels, "lab.bookinfo-harness.io/deployment": name},
                        "ownerReferences": [self._owner_ref(deployment)],
                    },
                    "spec": {
                        "replicas": replicas,
                        "selector": {"matchLabels": labels},
                        "template": {
                            **template,
                            "metadata": {**template.get("metadata", {}), "labels": labels},
                        },
                    },
                }
            )
        elif existing.get("spec", {}).get("replicas") != replicas:
            existing["spec"]["replicas"] = replicas
            self._store.update(existing, check_version=False)

    @staticmethod
    def _owner_ref(obj: dict) -> dict:
        return {
            "apiVersion": obj.get("apiVersion", "apps/v1"),
            "kind": obj["kind"],
            "name": obj["metadata"]["name"],
            "uid": obj["metadata"].get("uid", ""),
            "controller": True,
            "blockOwnerDeletion": True,
        }

    async def _create_pod(self, deployment: dict, template: dict, pod_hash: str) -> dict:
        meta = deployment["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        ns = self._store.get("Namespace", None, namespace) or {}
        ns_labels = ns.get("metadata", {}).get("labels", {}) or {}
        injected = wants_sidecar(ns_labels, template)
        pod_template = inject_template(template) if injected else copy.deepcopy(template)
        pod_meta = pod_template.get("metadata", {})
        spec = pod_template.get("spec", {})
        labels = dict(pod_meta.get("labels", {}))
        labels["pod-template-hash"] = pod_hash
        labels["lab.bookinfo-harness.io/deployment"] = name
        if injected:
            labels.setdefault("service.istio.io/canonical-name", labels.get("app", name))
            labels.setdefault("service.istio.io/canonical-revision", labels.get("version", "latest"))
        while True:
            pod_name = f"{name}-{pod_hash}-{random_suffix(self._rng)}"
            if self._store.get("Pod", namespace, pod_name) is None:
                break
        containers = spec.get("containers", [])
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod_name,
                "generateName": f"{name}-{pod_hash}-",
                "namespace": namespace,
                "labels": labels,
                "annotations": dict(pod_meta.get("annotations", {}) or {}),
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": f"{name}-{pod_hash}",
                        "uid": "",
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {
                **spec,
                "nodeName": "lab-node",
                "serviceAccountName": spec.get("serviceAccountName", "default"),
            },
            "status": self._pending_status(containers),
        }
        return self._store.create(pod)

    def _pending_status(self, containers: list[dict]) -> dict:
        return {
            "phase": "Pending",
            "hostIP": self._host,
            "startTime": _now(),
            "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": _now()}],
            "containerStatuses": [
                {
                    "name": c.get("name", ""),
                    "image": c.get("image", ""),
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "started": False,
                    "state": {"waiting": {"reason": "ContainerCreating"}},
                }
                for c in containers
            ],
        }

    def _pod_is_runnable(self, pod: dict) -> bool:
        waiting = [
            cs.get("state", {}).get("waiting", {}).get("reason")
            for cs in pod.get("status", {}).get("containerStatuses", [])
        ]
        return "ErrImagePull" not in waiting

    def _app_container(self, pod: dict) -> dict | None:
        for container in pod.get("spec", {}).get("containers", []):
            if container.get("name") != "istio-proxy":
                return container
        return None

    async def _start_pod(self, pod: dict) -> None:
        meta = pod["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        container = self._app_container(pod)
        image = (container or {}).get("image", "")
        injected = has_proxy(pod.get("spec", {}))
        env = {
            e["name"]: str(e.get("value", "")) for e in (container or {}).get("env", []) or [] if "name" in e
        }
        dispatch: dict[str, Handler] = {}

        async def serve(request: HttpRequest) -> HttpResponse:
            return await dispatch["handler"](request)

        listener = Listener(serve, host=self._host, name=name)
        await listener.start()
        labels = {k: v for k, v in meta.get("labels", {}).items()}
        endpoint = Endpoint(
            pod=name,
            namespace=namespace,
            labels=labels,
            address=listener.address,
            workload=meta.get("labels", {}).get("lab.bookinfo-harness.io/deployment", name),
            service_account=pod.get("spec", {}).get("serviceAccountName", "default"),
            injected=injected,
            ready=True,
        )
        runtime = PodRuntime(name, namespace, listener, endpoint, (container or {}).get("name", ""))
        ctx = PodContext(
            name=name,
            namespace=namespace,
            labels=labels,
            env=env,
            image=image,
            upstream=self._mesh.outbound(endpoint),
            log=runtime.app_log.append,
            era=self._era,
            rng=random.Random(self._rng.random()),
        )
        try:
            app = bookinfo.make_handler(ctx)
        except bookinfo.UnsupportedImage as exc:
            await listener.stop()
            self._mark_unrunnable(pod, str(exc))
            return
        dispatch["handler"] = self._mesh.inbound(endpoint, app) if injected else app
        if self._in_memory is not None:
            self._in_memory[listener.address] = serve
        self.pods[(namespace, name)] = runtime
        self._mark_running(pod, listener.address)

    async def _stop_runtime(self, runtime: PodRuntime) -> None:
        if self._in_memory is not None:
            self._in_memory.pop(runtime.listener.address, None)
        await runtime.listener.stop()

    def _mark_running(self, pod: dict, address: str) -> None:
        now = _now()
        statuses = []
        for c in pod.get("spec", {}).get("containers", []):
            statuses.append(
                {
                    "name": c.get("name", ""),
                    "image": c.get("image", ""),
                    "imageID": f"{c.get('image', '')}@sha256:lab",
                    "ready": True,
                    "restartCount": 0,
                    "started": True,
                    "state": {"running": {"startedAt": now}},
                }
            )
        status = {
            "phase": "Running",
            "hostIP": self._host,
            "podIP": self._host,
            "podIPs": [{"ip": self._host}],
            "startTime": pod.get("status", {}).get("startTime", now),
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": now}
                for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
            ],
            "containerStatuses": statuses,
        }
        meta = pod["metadata"]
        self._store.set_status("Pod", meta["namespace"], meta["name"], status)
        annotations = dict(meta.get("annotations") or {})
        if annotations.get("lab.bookinfo-harness.io/address") != address:
            live = self._store.get("Pod", meta["namespace"], meta["name"])
            if live is not None:
                live["metadata"].setdefault("annotations", {})["lab.bookinfo-harness.io/address"] = address
                self._store.update(live, check_version=False)

    def _mark_unrunnable(self, pod: dict, reason: str) -> None:
        status = self._pending_status(pod.get("spec", {}).get("containers", []))
        for cs in status["containerStatuses"]:
            cs["state"] = {"waiting": {"reason": "ErrImagePull", "message": reason}}
        status["conditions"].append(
            {"type": "Ready", "status": "False", "reason": "ContainersNotReady", "message": reason}
        )
        meta = pod["metadata"]
        self._store.set_status("Pod", meta["namespace"], meta["name"], status)

    def _delete_pod(self, pod: dict) -> None:
        meta = pod["metadata"]
        if self._store.get("Pod", meta["namespace"], meta["name"]) is not None:
            self._store.delete("Pod", meta["namespace"], meta["name"])
