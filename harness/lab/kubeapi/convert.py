"""Version conversion between what a client sends or asks for and what the store holds.

Istio kinds are stored as written and only get `apiVersion` rewritten on the way out. The
HorizontalPodAutoscaler is stored in the autoscaling/v2 shape; autoscaling/v1 requests are converted
(`targetCPUUtilizationPercentage` ↔ a `cpu` `Utilization` Resource metric).
"""

from __future__ import annotations

import copy
from typing import Any

from harness.lab.kinds import ResourceType

Obj = dict[str, Any]


def hpa_v1_to_v2(obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    out["apiVersion"] = "autoscaling/v2"
    spec = out.get("spec")
    if isinstance(spec, dict):
        target = spec.pop("targetCPUUtilizationPercentage", None)
        if target is not None:
            spec["metrics"] = [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": target},
                    },
                }
            ]
    status = out.get("status")
    if isinstance(status, dict):
        current = status.pop("currentCPUUtilizationPercentage", None)
        if current is not None:
            status["currentMetrics"] = [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}}
            ]
        status.setdefault("desiredReplicas", status.get("currentReplicas", 0))
    return out


def _cpu_utilization(metrics: Any, field: str) -> int | None:
    for m in metrics or []:
        res = m.get("resource") if isinstance(m, dict) else None
        if m.get("type") == "Resource" and isinstance(res, dict) and res.get("name") == "cpu":
            value = (res.get(field) or {}).get("averageUtilization")
            if value is not None:
                return int(value)
    return None


def hpa_v2_to_v1(obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    out["apiVersion"] = "autoscaling/v1"
    spec = out.get("spec")
    if isinstance(spec, dict):
        target = _cpu_utilization(spec.pop("metrics", None), "target")
        spec.pop("behavior", None)
        if target is not None:
            spec["targetCPUUtilizationPercentage"] = target
    status = out.get("status")
    if isinstance(status, dict):
        current = _cpu_utilization(status.pop("currentMetrics", None), "current")
        status.pop("conditions", None)
        if current is not None:
            status["currentCPUUtilizationPercentage"] = current
    return out


def to_storage(obj: Obj, rt: ResourceType, version: str) -> Obj:
    """A client's object (sent for `version`) in the form the store holds."""
    if rt.kind == "HorizontalPodAutoscaler" and version == "v1":
        return hpa_v1_to_v2(obj)
    out = copy.deepcopy(obj)
    out.setdefault("apiVersion", rt.api_version(version))
    return out


def to_version(obj: Obj, rt: ResourceType, version: str) -> Obj:
    """A stored object as served under `version` (apiVersion rewritten, HPA converted)."""
    if rt.kind == "HorizontalPodAutoscaler":
        return (
            hpa_v2_to_v1(obj) if version == "v1" else {**copy.deepcopy(obj), "apiVersion": "autoscaling/v2"}
        )
    out = copy.deepcopy(obj)
    out["apiVersion"] = rt.api_version(version)
    return out
