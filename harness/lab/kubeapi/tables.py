"""Server-side printing: `meta.k8s.io/v1` Table responses with the columns kubectl shows for each kind.

kubectl prints the cells verbatim, so READY, STATUS, RESTARTS, PORT(S), TARGETS and AGE are computed
here the way the real API server's printers compute them (ages in `HumanDuration` form: "46s", "5m",
"3h", "2d"). Istio kinds use their CRDs' additionalPrinterColumns (arrays rendered as JSON text).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from harness.lab.kinds import ResourceType

Obj = dict[str, Any]
Column = tuple[str, str, int]  # name, type, priority


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def age(obj: Obj, now: datetime) -> str:
    ts = parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
    if ts is None:
        return "<unknown>"
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return human_duration((now - ts).total_seconds())


def _get(obj: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(p)
    return obj


def _labels(selector: Any) -> str:
    if not isinstance(selector, dict) or not selector:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def _label_selector(sel: Any) -> str:
    if not isinstance(sel, dict):
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for expr in sel.get("matchExpressions") or []:
        op = str(expr.get("operator", "")).lower()
        vals = ",".join(expr.get("values") or [])
        key = expr.get("key", "")
        parts.append({"exists": key, "doesnotexist": f"!{key}"}.get(op, f"{key} {op} ({vals})"))
    return ",".join(parts) or "<none>"


# ------------------------------------------------------------------------------------------------- pods


def _is_sidecar(container: Obj) -> bool:
    return container.get("restartPolicy") == "Always"


def pod_ready(pod: Obj) -> str:
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    sidecars = {c.get("name") for c in spec.get("initContainers") or [] if _is_sidecar(c)}
    total = len(spec.get("containers") or []) + len(sidecars)
    ready = sum(1 for c in status.get("containerStatuses") or [] if c.get("ready"))
    ready += sum(
        1 for c in status.get("initContainerStatuses") or [] if c.get("name") in sidecars and c.get("ready")
    )
    return f"{ready}/{total}"


def pod_status(pod: Obj) -> str:
    """The STATUS cell, following kubectl's printPod."""
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Pending"
    spec = pod.get("spec") or {}
    sidecars = {c.get("name") for c in spec.get("initContainers") or [] if _is_sidecar(c)}
    init_statuses = status.get("initContainerStatuses") or []
    initializing = False
    n_init = len(spec.get("initContainers") or [])
    for i, c in enumerate(init_statuses):
        state = c.get("state") or {}
        term, wait = state.get("terminated"), state.get("waiting")
        if term and term.get("exitCode", 0) == 0:
            continue
        if c.get("name") in sidecars and "running" in state and c.get("started"):
            continue
        if term:
            reason = "Init:" + (term.get("reason") or f"ExitCode:{term.get('exitCode', 0)}")
        elif wait and wait.get("reason") and wait.get("reason") != "PodInitializing":
            reason = "Init:" + wait["reason"]
        else:
            reason = f"Init:{i}/{n_init}"
        initializing = True
        break
    if not initializing:
        has_running = False
        for c in reversed(status.get("containerStatuses") or []):
            state = c.get("state") or {}
            wait, term = state.get("waiting"), state.get("terminated")
            if wait and wait.get("reason"):
                reason = wait["reason"]
            elif term and term.get("reason"):
                reason = term["reason"]
            elif term:
                reason = f"ExitCode:{term.get('exitCode', 0)}"
            elif c.get("ready") and "running" in state:
                has_running = True
        if reason == "Completed" and has_running:
            conditions = status.get("conditions") or []
            ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
            reason = "Running" if ready else "NotReady"
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return reason


def pod_restarts(pod: Obj, now: datetime) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
    last: datetime | None = None
    for c in statuses:
        finished = parse_time(_get(c, "lastState", "terminated", "finishedAt"))
        if finished and (last is None or finished > last):
            last = finished
    if restarts and last:
        return f"{restarts} ({human_duration((now - last).total_seconds())} ago)"
    return str(restarts)


def _pod_cells(pod: Obj, now: datetime) -> list[Any]:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    gates = spec.get("readinessGates") or []
    if gates:
        true = {c.get("type") for c in status.get("conditions") or [] if c.get("status") == "True"}
        gate_cell = f"{sum(1 for g in gates if g.get('conditionType') in true)}/{len(gates)}"
    else:
        gate_cell = "<none>"
    return [
        pod_ready(pod),
        pod_status(pod),
        pod_restarts(pod, now),
        age(pod, now),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gate_cell,
    ]


# --------------------------------------------------------------------------------------------- services


def service_ports(svc: Obj) -> str:
    ports = _get(svc, "spec", "ports") or []
    out = []
    for p in ports:
        text = str(p.get("port", ""))
        if p.get("nodePort"):
            text += f":{p['nodePort']}"
        out.append(f"{text}/{p.get('protocol') or 'TCP'}")
    return ",".join(out) or "<none>"


def service_external_ip(svc: Obj) -> str:
    spec = svc.get("spec") or {}
    kind = spec.get("type") or "ClusterIP"
    external = list(spec.get("externalIPs") or [])
    if kind == "ExternalName":
        return spec.get("externalName") or "<none>"
    if kind == "LoadBalancer":
        ingress = _get(svc, "status", "loadBalancer", "ingress") or []
        ips = [i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")]
        return ",".join(ips + external) or "<pending>"
    return ",".join(external) or "<none>"


def _service_cells(svc: Obj, now: datetime) -> list[Any]:
    spec = svc.get("spec") or {}
    return [
        spec.get("type") or "ClusterIP",
        spec.get("clusterIP") or "<none>",
        service_external_ip(svc),
        service_ports(svc),
        age(svc, now),
        _labels(spec.get("selector")),
    ]


# ------------------------------------------------------------------------------------- workloads, hpa


def _containers(obj: Obj) -> tuple[str, str]:
    cs = _get(obj, "spec", "template", "spec", "containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _deployment_cells(d: Obj, now: datetime) -> list[Any]:
    spec, status = d.get("spec") or {}, d.get("status") or {}
    names, images = _containers(d)
    return [
        f"{status.get('readyReplicas') or 0}/{spec.get('replicas', 1)}",
        status.get("updatedReplicas") or 0,
        status.get("availableReplicas") or 0,
        age(d, now),
        names,
        images,
        _label_selector(spec.get("selector")),
    ]


def _replicaset_cells(rs: Obj, now: datetime) -> list[Any]:
    spec, status = rs.get("spec") or {}, rs.get("status") or {}
    names, images = _containers(rs)
    return [
        spec.get("replicas", 1),
        status.get("replicas") or 0,
        status.get("readyReplicas") or 0,
        age(rs, now),
        names,
        images,
        _label_selector(spec.get("selector")),
    ]


def hpa_targets(hpa: Obj) -> str:
    """TARGETS for a v2-shaped HPA: `cpu: <unknown>/50%`, `cpu: 12%/50%`."""
    metrics = _get(hpa, "spec", "metrics") or []
    current = _get(hpa, "status", "currentMetrics") or []
    out = []
    for i, m in enumerate(metrics):
        if m.get("type") != "Resource" or not isinstance(m.get("resource"), dict):
            out.append("<unknown>/<unknown>")
            continue
        res = m["resource"]
        target = res.get("target") or {}
        cur = current[i] if i < len(current) else {}
        cur_res = (cur.get("resource") or {}).get("current") or {}
        if target.get("type") == "Utilization" or "averageUtilization" in target:
            now_val = cur_res.get("averageUtilization")
            now_text = f"{now_val}%" if now_val is not None else "<unknown>"
            out.append(f"{res.get('name', 'cpu')}: {now_text}/{target.get('averageUtilization')}%")
        else:
            want = target.get("averageValue") or target.get("value")
            have = cur_res.get("averageValue") or cur_res.get("value") or "<unknown>"
            out.append(f"{res.get('name', 'cpu')}: {have}/{want}")
    return ", ".join(out) or "<none>"


def _hpa_cells(hpa: Obj, now: datetime) -> list[Any]:
    spec, status = hpa.get("spec") or {}, hpa.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    min_r = spec.get("minReplicas")
    return [
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        hpa_targets(hpa),
        "<unset>" if min_r is None else min_r,
        spec.get("maxReplicas", 0),
        status.get("currentReplicas") or 0,
        age(hpa, now),
    ]


# ---------------------------------------------------------------------------------------------- others


def _event_cells(ev: Obj, now: datetime) -> list[Any]:
    last = parse_time(ev.get("lastTimestamp") or ev.get("eventTime")) or parse_time(
        _get(ev, "metadata", "creationTimestamp")
    )
    io = ev.get("involvedObject") or {}
    return [
        human_duration((now - last).total_seconds()) if last else "<unknown>",
        ev.get("type", ""),
        ev.get("reason", ""),
        f"{str(io.get('kind', '')).lower()}/{io.get('name', '')}",
        ev.get("message", ""),
    ]


def _endpoints_cells(ep: Obj, now: datetime) -> list[Any]:
    addrs = []
    for subset in ep.get("subsets") or []:
        for a in subset.get("addresses") or []:
            for p in subset.get("ports") or [{}]:
                addrs.append(f"{a.get('ip')}:{p.get('port')}" if p.get("port") else str(a.get("ip")))
    text = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    return [text or "<none>", age(ep, now)]


def _json_cell(value: Any) -> Any:
    if value is None:
        return None
    return json.dumps(value, separators=(",", ":")) if isinstance(value, list | dict) else str(value)


S, INT = "string", "integer"
_PRINTERS: dict[str, tuple[list[Column], Callable[[Obj, datetime], list[Any]]]] = {
    "Pod": (
        [
            ("Ready", S, 0),
            ("Status", S, 0),
            ("Restarts", S, 0),
            ("Age", S, 0),
            ("IP", S, 1),
            ("Node", S, 1),
            ("Nominated Node", S, 1),
            ("Readiness Gates", S, 1),
        ],
        _pod_cells,
    ),
    "Service": (
        [
            ("Type", S, 0),
            ("Cluster-IP", S, 0),
            ("External-IP", S, 0),
            ("Port(s)", S, 0),
            ("Age", S, 0),
            ("Selector", S, 1),
        ],
        _service_cells,
    ),
    "Deployment": (
        [
            ("Ready", S, 0),
            ("Up-to-date", INT, 0),
            ("Available", INT, 0),
            ("Age", S, 0),
            ("Containers", S, 1),
            ("Images", S, 1),
            ("Selector", S, 1),
        ],
        _deployment_cells,
    ),
    "ReplicaSet": (
        [
            ("Desired", INT, 0),
            ("Current", INT, 0),
            ("Ready", INT, 0),
            ("Age", S, 0),
            ("Containers", S, 1),
            ("Images", S, 1),
            ("Selector", S, 1),
        ],
        _replicaset_cells,
    ),
    "HorizontalPodAutoscaler": (
        [
            ("Reference", S, 0),
            ("Targets", S, 0),
            ("MinPods", S, 0),
            ("MaxPods", INT, 0),
            ("Replicas", INT, 0),
            ("Age", S, 0),
        ],
        _hpa_cells,
    ),
    "Namespace": (
        [("Status", S, 0), ("Age", S, 0)],
        lambda o, now: [_get(o, "status", "phase") or "Active", age(o, now)],
    ),
    "ServiceAccount": (
        [("Secrets", INT, 0), ("Age", S, 0)],
        lambda o, now: [len(o.get("secrets") or []), age(o, now)],
    ),
    "ConfigMap": (
        [("Data", INT, 0), ("Age", S, 0)],
        lambda o, now: [len(o.get("data") or {}) + len(o.get("binaryData") or {}), age(o, now)],
    ),
    "Event": (
        [("Last Seen", S, 0), ("Type", S, 0), ("Reason", S, 0), ("Object", S, 0), ("Message", S, 0)],
        _event_cells,
    ),
    "Endpoints": ([("Endpoints", S, 0), ("Age", S, 0)], _endpoints_cells),
    "VirtualService": (
        [("Gateways", S, 0), ("Hosts", S, 0), ("Age", "date", 0)],
        lambda o, now: [
            _json_cell(_get(o, "spec", "gateways")),
            _json_cell(_get(o, "spec", "hosts")),
            age(o, now),
        ],
    ),
    "DestinationRule": (
        [("Host", S, 0), ("Age", "date", 0)],
        lambda o, now: [_json_cell(_get(o, "spec", "host")), age(o, now)],
    ),
    "ServiceEntry": (
        [("Hosts", S, 0), ("Location", S, 0), ("Resolution", S, 0), ("Age", "date", 0)],
        lambda o, now: [
            _json_cell(_get(o, "spec", "hosts")),
            _json_cell(_get(o, "spec", "location")),
            _json_cell(_get(o, "spec", "resolution")),
            age(o, now),
        ],
    ),
}
_DEFAULT: tuple[list[Column], Callable[[Obj, datetime], list[Any]]] = (
    [("Age", "date", 0)],
    lambda o, now: [age(o, now)],
)


def column_definitions(rt: ResourceType) -> list[Obj]:
    cols = [("Name", S, 0), *_PRINTERS.get(rt.kind, _DEFAULT)[0]]
    return [
        {
            "name": name,
            "type": "string" if kind == "date" else kind,
            "format": "name" if name == "Name" else "",
            "description": "",
            "priority": prio,
        }
        for name, kind, prio in cols
    ]


def row(obj: Obj, rt: ResourceType, now: datetime, include: str = "Metadata") -> Obj:
    _, cells_fn = _PRINTERS.get(rt.kind, _DEFAULT)
    out: Obj = {"cells": [(obj.get("metadata") or {}).get("name", ""), *cells_fn(obj, now)]}
    if include == "Object":
        out["object"] = obj
    elif include != "None":
        md = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
        out["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": md}
    return out


def table(
    objs: list[Obj],
    rt: ResourceType,
    now: datetime,
    resource_version: str,
    *,
    include: str = "Metadata",
    columns: bool = True,
) -> Obj:
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": column_definitions(rt) if columns else [],
        "rows": [row(o, rt, now, include) for o in objs],
    }
