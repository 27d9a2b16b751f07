"""The grader's only door into a cluster: a read-only view of `harness.kube.KubeClient`.

`ReadOnlyKube` exposes get, list, server_version and the identity used, and sends nothing but HTTP GET.
It keeps the client it wraps private and has no attribute that could create, change or delete an object;
tests/grading checks that no module of harness.grading names a mutating verb or method.

Objects are read at the version the API server prefers (discovery), so an object applied as
networking.istio.io/v1alpha3 is read the same as one applied as v1; HorizontalPodAutoscalers served only as
autoscaling/v1 are converted to the v2 shape the checks use.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import TargetError
from harness.grading.rubric import OBJECT_KINDS
from harness.kube import KubeClient, resource

READ_METHOD = "GET"


class ReadOnlyKube:
    """get / list / server_version against one API server; GET is the only HTTP method it can send."""

    __slots__ = ("__client", "_versions", "context", "host", "identity")

    def __init__(self, client: KubeClient, context: str | None = None) -> None:
        self.__client = client
        self.host = client.host
        self.identity = client.identity  # "bearer token", "client certificate x.crt": never the secret
        self.context = context
        self._versions: dict[str, str | None] = {}

    @classmethod
    def connect(cls, kubeconfig: Path | None, context: str | None) -> ReadOnlyKube:
        return cls(KubeClient(kubeconfig=kubeconfig, context=context), context)

    def close(self) -> None:
        self.__client.close()

    def _read(self, path: str, query: dict[str, str] | None = None, what: str = "") -> dict | None:
        return self.__client.request(READ_METHOD, path, query=query, what=what)

    def preferred_version(self, group: str) -> str | None:
        """The version the server prefers for an API group (None: the group is not served)."""
        if group not in self._versions:
            data = self._read(f"/apis/{group}", what=f"API group {group}")
            preferred = (data or {}).get("preferredVersion") or {}
            self._versions[group] = preferred.get("version")
        return self._versions[group]

    def _path(self, kind: str, namespace: str | None, name: str | None) -> tuple[str, str]:
        res = resource(kind)
        version = res.version
        if res.group:
            version = self.preferred_version(res.group) or res.version
        return res.path(namespace, name, version=version), (
            f"{res.group}/{version}" if res.group else version
        )

    def get(self, kind: str, namespace: str | None, name: str) -> dict | None:
        path, api_version = self._path(kind, namespace, name)
        obj = self._read(path, what=f"{kind} {namespace or ''}/{name}")
        return _normalise(obj, kind, api_version) if obj else None

    def list(self, kind: str, namespace: str | None = None, selector: str | None = None) -> list[dict]:
        path, api_version = self._path(kind, namespace, None)
        data = self._read(path, {"labelSelector": selector} if selector else None, what=f"{kind} list") or {}
        return [_normalise(item, kind, api_version) for item in data.get("items") or []]

    def server_version(self) -> str:
        data = self._read("/version", what="server version") or {}
        return str(data.get("gitVersion", "unknown"))


def _normalise(obj: dict, kind: str, api_version: str) -> dict:
    obj.setdefault("kind", kind)
    obj.setdefault("apiVersion", api_version)
    if kind == "HorizontalPodAutoscaler" and api_version == "autoscaling/v1":
        return hpa_as_v2(obj)
    return obj


def hpa_as_v2(obj: dict) -> dict:
    """An autoscaling/v1 HPA in the autoscaling/v2 shape (targetCPUUtilizationPercentage -> metrics)."""
    spec = dict(obj.get("spec") or {})
    cpu = spec.pop("targetCPUUtilizationPercentage", None)
    if cpu is not None:
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu}},
            }
        ]
    return {**obj, "apiVersion": "autoscaling/v2", "spec": spec}


# Namespaces are read one by one (by name) in collect_state; every other kind a rubric can name is listed.
STATE_KINDS = tuple(kind for kind in OBJECT_KINDS if kind != "Namespace")


@dataclass
class ClusterState:
    """Everything the config checks look at, read once: plain dicts plus what could not be read."""

    objects: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    namespaces: tuple[str, ...] = ()
    read_seconds: float = 0.0


def collect_state(kube: ReadOnlyKube, namespaces: list[str]) -> ClusterState:
    """Read the namespaces and every graded kind in them. A kind that cannot be read is recorded, not fatal;
    an API server that cannot be reached at all raises TargetError."""
    started = time.monotonic()
    state = ClusterState(namespaces=tuple(namespaces))
    for namespace in namespaces:
        ns = kube.get("Namespace", None, namespace)
        if ns is not None:
            state.objects.append(ns)
    for kind in STATE_KINDS:
        for namespace in namespaces:
            try:
                state.objects.extend(kube.list(kind, namespace))
            except TargetError as exc:
                if "cannot reach" in str(exc):
                    raise
                state.errors.append(f"{kind} in {namespace}: {exc}")
    state.read_seconds = time.monotonic() - started
    return state
