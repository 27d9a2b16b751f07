"""Sidecar injection: our `istioctl kube-inject`, and the admission decision for new pods. Pure.

Istio injects a pod when its namespace is labelled `istio-injection=enabled` (pods created after the label),
or when the pod template asks for it with `sidecar.istio.io/inject: "true"`; an explicit "false" wins over the
namespace label. `kube-inject` rewrites the manifest itself: the template then already carries the
`istio-proxy` container and the `sidecar.istio.io/status` annotation, so kubectl applies an injected pod.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

PROXY_IMAGE = "docker.io/istio/proxyv2:1.17.2"
INJECT_KEY = "sidecar.istio.io/inject"
STATUS_KEY = "sidecar.istio.io/status"
POD_KINDS = {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "Pod"}


def has_proxy(pod_spec: Mapping[str, object]) -> bool:
    """True when a pod spec carries the sidecar (as a container, or as a native sidecar init container)."""
    for key in ("containers", "initContainers"):
        containers = pod_spec.get(key)
        for container in containers if isinstance(containers, list) else []:
            if isinstance(container, Mapping) and container.get("name") == "istio-proxy":
                return True
    return False


def wants_sidecar(namespace_labels: Mapping[str, str], template: Mapping[str, object]) -> bool:
    """Whether a pod created now from `template` gets a sidecar."""
    metadata = template.get("metadata") or {}
    spec = template.get("spec") or {}
    assert isinstance(metadata, Mapping) and isinstance(spec, Mapping)
    if has_proxy(spec):
        return True
    annotations = metadata.get("annotations") or {}
    labels = metadata.get("labels") or {}
    explicit = labels.get(INJECT_KEY, annotations.get(INJECT_KEY))
    if explicit is not None:
        return str(explicit).lower() == "true"
    return namespace_labels.get("istio-injection") == "enabled"


def proxy_container() -> dict[str, object]:
    return {
        "name": "istio-proxy",
        "image": PROXY_IMAGE,
        "args": ["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local"],
        "ports": [{"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021}},
        "securityContext": {"runAsUser": 1337, "runAsGroup": 1337},
    }


def init_container() -> dict[str, object]:
    return {
        "name": "istio-init",
        "image": PROXY_IMAGE,
        "args": ["istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT"],
        "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}},
    }


def inject_template(template: Mapping[str, object]) -> dict[str, Any]:
    """Return a copy of a pod template with the sidecar added (idempotent)."""
    out = copy.deepcopy(dict(template))
    spec = out.setdefault("spec", {})
    assert isinstance(spec, dict)
    if has_proxy(spec):
        return out
    spec.setdefault("containers", []).append(proxy_container())
    spec.setdefault("initContainers", []).append(init_container())
    metadata = out.setdefault("metadata", {})
    assert isinstance(metadata, dict)
    annotations = metadata.setdefault("annotations", {})
    annotations[STATUS_KEY] = json.dumps(
        {
            "initContainers": ["istio-init"],
            "containers": ["istio-proxy"],
            "volumes": [],
            "revision": "default",
        },
        separators=(",", ":"),
    )
    labels = metadata.setdefault("labels", {})
    labels.setdefault("security.istio.io/tlsMode", "istio")
    return out


def inject_object(obj: Mapping[str, object]) -> dict[str, object]:
    """kube-inject one manifest object: workloads get the sidecar in their pod template; others pass."""
    out = copy.deepcopy(dict(obj))
    kind = out.get("kind")
    if kind not in POD_KINDS:
        return out
    if kind == "Pod":
        pod = inject_template({"metadata": out.get("metadata") or {}, "spec": out.get("spec") or {}})
        out["metadata"], out["spec"] = pod["metadata"], pod["spec"]
        return out
    spec = out.get("spec")
    if isinstance(spec, dict) and isinstance(spec.get("template"), Mapping):
        spec["template"] = inject_template(spec["template"])
    return out


def inject_objects(objects: Iterable[Mapping[str, object]]) -> list[dict[str, object]]:
    return [inject_object(obj) for obj in objects]
