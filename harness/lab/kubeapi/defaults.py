"""Defaulting and strict field checks the API applies to built-in objects on the way in.

Only what clients visibly rely on: Service type/protocol/targetPort, Deployment replicas and strategy,
Pod phase, Namespace phase and name label, HPA minReplicas. Cluster IPs, node ports and pod status are
the lab's controllers' business (admission hooks or `set_status`).
"""

from __future__ import annotations

from typing import Any

from harness.lab.kinds import ResourceType
from harness.lab.store import StoreError

Obj = dict[str, Any]

_BASE = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})
TOP_LEVEL: dict[str, frozenset[str]] = {
    "ConfigMap": frozenset({"apiVersion", "kind", "metadata", "data", "binaryData", "immutable"}),
    "ServiceAccount": frozenset(
        {"apiVersion", "kind", "metadata", "secrets", "imagePullSecrets", "automountServiceAccountToken"}
    ),
    "Endpoints": frozenset({"apiVersion", "kind", "metadata", "subsets"}),
}


def check_strict(obj: Obj, rt: ResourceType) -> None:
    """`fieldValidation=Strict`: refuse unknown top-level fields (400, as strict decoding does)."""
    if rt.kind == "Event":
        return
    allowed = TOP_LEVEL.get(rt.kind, _BASE)
    unknown = sorted(k for k in obj if k not in allowed)
    if unknown:
        fields = ", ".join(f'unknown field "{k}"' for k in unknown)
        raise StoreError(
            400,
            "BadRequest",
            f"{rt.kind} in version {rt.api_version()!r} cannot be handled as a {rt.kind}: "
            f"strict decoding error: {fields}",
        )


def _dict(parent: Obj, key: str) -> Obj:
    value = parent.get(key)
    if not isinstance(value, dict):
        value = {}
        parent[key] = value
    return value


def apply_defaults(obj: Obj, rt: ResourceType) -> None:
    """Fill the defaults a real API server adds on create (mutates `obj`)."""
    kind = rt.kind
    if kind == "Service":
        spec = _dict(obj, "spec")
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                if "port" in p:
                    p.setdefault("targetPort", p["port"])
    elif kind == "Deployment":
        spec = _dict(obj, "spec")
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault(
            "strategy",
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
        )
        tmpl_spec = _dict(_dict(spec, "template"), "spec")
        tmpl_spec.setdefault("restartPolicy", "Always")
    elif kind == "ReplicaSet":
        _dict(obj, "spec").setdefault("replicas", 1)
    elif kind == "Pod":
        _dict(obj, "spec").setdefault("restartPolicy", "Always")
        _dict(obj, "status").setdefault("phase", "Pending")
    elif kind == "Namespace":
        name = (obj.get("metadata") or {}).get("name")
        if name:
            _dict(obj["metadata"], "labels").setdefault("kubernetes.io/metadata.name", name)
        _dict(obj, "spec").setdefault("finalizers", ["kubernetes"])
        _dict(obj, "status").setdefault("phase", "Active")
    elif kind == "HorizontalPodAutoscaler":
        _dict(obj, "spec").setdefault("minReplicas", 1)
