"""Read applied Kubernetes/Istio objects into an index the oracle can reason about.

Pure: dicts in, frozen dataclasses out. Everything the webhook would reject, and every feature whose
effect the oracle does not model, raises OracleError here or where it is used; the oracle never guesses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any

CLUSTER_DOMAIN = "svc.cluster.local"
ISTIO_GROUP = "networking.istio.io"
ISTIO_VERSIONS = frozenset({"v1alpha3", "v1beta1", "v1"})
ISTIO_KINDS = frozenset({"VirtualService", "DestinationRule", "Gateway"})
# Kinds that cannot change where an HTTP request goes or what it gets back.
INERT_KINDS = frozenset(
    {
        "ServiceAccount",
        "ConfigMap",
        "Secret",
        "HorizontalPodAutoscaler",
        "ReplicaSet",
        "Endpoints",
        "EndpointSlice",
        "Event",
        "PodDisruptionBudget",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
    }
)
SYSTEM_NAMESPACES = frozenset({"istio-system", "kube-system", "kube-public", "kube-node-lease"})
# Labels of the ingress gateway pods when the objects do not include them (istio's default install).
DEFAULT_INGRESS_LABELS: Mapping[str, str] = {"app": "istio-ingressgateway", "istio": "ingressgateway"}
PROXY_CONTAINER = "istio-proxy"
INJECT_KEY = "sidecar.istio.io/inject"
STATUS_ANNOTATION = "sidecar.istio.io/status"


class OracleError(Exception):
    """A manifest feature the oracle does not model (or the API would reject); the oracle never guesses."""


# ----------------------------------------------------------------------------------------------------
# small readers


def as_map(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise OracleError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def as_list(value: Any, where: str) -> Sequence[Any]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise OracleError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def str_map(value: Any, where: str) -> dict[str, str]:
    return {str(k): str(v) for k, v in as_map(value, where).items()}


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|us|µs|ns|m|s)")
_UNIT_SECONDS = {
    "h": Fraction(3600),
    "m": Fraction(60),
    "s": Fraction(1),
    "ms": Fraction(1, 1000),
    "us": Fraction(1, 10**6),
    "µs": Fraction(1, 10**6),
    "ns": Fraction(1, 10**9),
}


def parse_duration(value: Any, where: str) -> Fraction:
    """'7s', '0.5s', '500ms', '1m30s' -> seconds (exact)."""
    if isinstance(value, Mapping):  # protobuf Duration as an object
        return Fraction(int(value.get("seconds", 0))) + Fraction(int(value.get("nanos", 0)), 10**9)
    text = str(value).strip()
    pos, total = 0, Fraction(0)
    for m in _DURATION_PART.finditer(text):
        if m.start() != pos:
            break
        total += Fraction(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise OracleError(f"{where}: cannot read duration {value!r}")
    return total


def parse_timestamp(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise OracleError(f"creationTimestamp {value!r} is not RFC 3339") from exc


def resolve_host(host: str, namespace: str) -> str:
    """Istio's rule: a name without a dot is short and resolves in the RESOURCE's namespace; others stay
    literal (ConvertHostToFQDN)."""
    if host.startswith("*") or "." in host:
        return host
    return f"{host}.{namespace}.{CLUSTER_DOMAIN}"


def host_matches(pattern: str, host: str) -> bool:
    """Does a (possibly wildcard) Istio host pattern cover a concrete host?"""
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return pattern == host


def labels_select(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def fmt_labels(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


# ----------------------------------------------------------------------------------------------------
# the index


@dataclass(frozen=True, slots=True)
class Meta:
    kind: str
    name: str
    namespace: str
    created: datetime | None
    index: int  # position in the input list: the tie-break when timestamps are absent

    @property
    def ref(self) -> str:
        """How findings name the object, as istioctl does: 'VirtualService default/reviews'."""
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    def age_key(self) -> tuple[bool, datetime, int]:
        """Oldest first; objects without a timestamp count as newest, then list order."""
        return (self.created is None, self.created or datetime.min, self.index)


@dataclass(frozen=True, slots=True)
class Pod:
    name: str
    namespace: str
    labels: Mapping[str, str]
    sidecar: bool
    workload: str
    image: str
    real: bool  # a Pod object (True) or derived from a Deployment's replicas (False)
    serving: bool = True  # counted as an endpoint (Running and Ready, not terminating)

    @property
    def version(self) -> str:
        return self.labels.get("version", "unknown")


@dataclass(frozen=True, slots=True)
class Service:
    meta: Meta
    selector: Mapping[str, str]
    ports: tuple[int, ...]

    @property
    def fqdn(self) -> str:
        return f"{self.meta.name}.{self.meta.namespace}.{CLUSTER_DOMAIN}"


@dataclass(frozen=True, slots=True)
class VirtualService:
    meta: Meta
    hosts: tuple[str, ...]  # as written
    gateways: tuple[str, ...]  # resolved: "mesh" or "ns/name"; ("mesh",) when omitted
    gateways_written: tuple[str, ...]
    http: tuple[Mapping[str, Any], ...]
    export_to: tuple[str, ...]

    @property
    def fqdn_hosts(self) -> tuple[str, ...]:
        return tuple(resolve_host(h, self.meta.namespace) for h in self.hosts)

    @property
    def binds_mesh(self) -> bool:
        return "mesh" in self.gateways

    def visible_from(self, namespace: str) -> bool:
        return _visible(self.export_to, self.meta.namespace, namespace)


@dataclass(frozen=True, slots=True)
class Subset:
    name: str
    labels: Mapping[str, str]
    policy: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class DestinationRule:
    meta: Meta
    host: str  # as written
    subsets: tuple[Subset, ...]
    policy: Mapping[str, Any]
    export_to: tuple[str, ...]

    @property
    def fqdn_host(self) -> str:
        return resolve_host(self.host, self.meta.namespace)


@dataclass(frozen=True, slots=True)
class Server:
    number: int
    protocol: str
    hosts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Gateway:
    meta: Meta
    selector: Mapping[str, str]
    servers: tuple[Server, ...]

    @property
    def key(self) -> str:
        return f"{self.meta.namespace}/{self.meta.name}"


@dataclass(frozen=True, slots=True)
class World:
    namespaces: Mapping[str, Mapping[str, str]]  # name -> labels (only Namespaces given as objects)
    pods: tuple[Pod, ...]
    pods_given: bool
    services: Mapping[str, Service]  # by FQDN
    virtual_services: tuple[VirtualService, ...]
    destination_rules: tuple[DestinationRule, ...]
    gateways: Mapping[str, Gateway]  # by "ns/name"
    workload_namespaces: frozenset[str]
    ingress_labels: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_INGRESS_LABELS))

    def endpoints(self, service: Service) -> list[Pod]:
        if not service.selector:
            return []
        return [
            p
            for p in self.pods
            if p.serving
            and p.namespace == service.meta.namespace
            and labels_select(service.selector, p.labels)
        ]


def _visible(export_to: Sequence[str], own_ns: str, viewer_ns: str) -> bool:
    if not export_to or "*" in export_to:
        return True
    return ("." in export_to and viewer_ns == own_ns) or viewer_ns in export_to


# ----------------------------------------------------------------------------------------------------
# building the index


def _flatten(objects: Iterable[Any]) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for obj in objects:
        if obj is None:
            continue
        obj = as_map(obj, "object")
        if str(obj.get("kind", "")).endswith("List") and "items" in obj:
            out.extend(_flatten(as_list(obj.get("items"), "List.items")))
        else:
            out.append(obj)
    return out


def _meta(obj: Mapping[str, Any], index: int, default_ns: str, *, namespaced: bool = True) -> Meta:
    md = as_map(obj.get("metadata"), "metadata")
    kind = str(obj.get("kind"))
    name = md.get("name")
    if not name:
        raise OracleError(f"{kind} #{index} has no metadata.name")
    ns = str(md.get("namespace") or default_ns) if namespaced else ""
    return Meta(kind, str(name), ns, parse_timestamp(md.get("creationTimestamp")), index)


def _has_proxy(spec: Mapping[str, Any], annotations: Mapping[str, str]) -> bool:
    if STATUS_ANNOTATION in annotations:
        return True
    for key in ("containers", "initContainers"):
        for c in as_list(spec.get(key), key):
            if as_map(c, key).get("name") == PROXY_CONTAINER:
                return True
    return False


def _app_image(spec: Mapping[str, Any]) -> str:
    for c in as_list(spec.get("containers"), "containers"):
        c = as_map(c, "containers")
        if c.get("name") != PROXY_CONTAINER:
            return str(c.get("image", ""))
    return ""


def template_injected(
    ns_labels: Mapping[str, str], labels: Mapping[str, str], annotations: Mapping[str, str]
) -> bool:
    """Would the default istio webhooks add a proxy to a pod created now from this template?"""
    if ns_labels.get("istio-injection") == "disabled":
        return False
    opt = labels.get(INJECT_KEY, annotations.get(INJECT_KEY))
    if opt is not None and opt.lower() == "false":
        return False
    if ns_labels.get("istio-injection") == "enabled" or "istio.io/rev" in ns_labels:
        return True
    return labels.get(INJECT_KEY, "").lower() == "true"  # the object-selector webhook


def _pod_serving(obj: Mapping[str, Any]) -> bool:
    md = as_map(obj.get("metadata"), "metadata")
    if md.get("deletionTimestamp"):
        return False
    status = as_map(obj.get("status"), "status")
    phase = status.get("phase")
    if phase is not None and phase != "Running":
        return False
    for cond in as_list(status.get("conditions"), "conditions"):
        cond = as_map(cond, "conditions")
        if cond.get("type") == "Ready" and str(cond.get("status")) == "False":
            return False
    return True


def _workload_of(md: Mapping[str, Any], labels: Mapping[str, str], name: str) -> str:
    for ref in as_list(md.get("ownerReferences"), "ownerReferences"):
        ref = as_map(ref, "ownerReferences")
        if ref.get("kind") == "ReplicaSet" and "-" in str(ref.get("name", "")):
            return str(ref["name"]).rsplit("-", 1)[0]
    if "app" in labels and "version" in labels:
        return f"{labels['app']}-{labels['version']}"
    return name


def _check_istio_api(obj: Mapping[str, Any], kind: str) -> None:
    api = str(obj.get("apiVersion", ""))
    group, _, version = api.partition("/")
    if group != ISTIO_GROUP or version not in ISTIO_VERSIONS:
        raise OracleError(
            f'{kind}: apiVersion "{api}" does not exist ("no matches for kind"); '
            f"use {ISTIO_GROUP}/v1alpha3, v1beta1 or v1"
        )


def _gateway_ref(name: str, vs_ns: str) -> str:
    if name == "mesh":
        return "mesh"
    return name if "/" in name else f"{vs_ns}/{name}"


def build_world(objects: Iterable[Any], namespace: str) -> World:
    items = _flatten(objects)
    namespaces: dict[str, dict[str, str]] = {}
    deployments: list[tuple[Meta, Mapping[str, Any]]] = []
    pod_objs: list[tuple[Meta, Mapping[str, Any]]] = []
    services: dict[str, Service] = {}
    vss: list[VirtualService] = []
    drs: list[DestinationRule] = []
    gateways: dict[str, Gateway] = {}

    for i, obj in enumerate(items):
        kind = str(obj.get("kind", ""))
        api = str(obj.get("apiVersion", ""))
        if kind == "Namespace":
            m = _meta(obj, i, namespace, namespaced=False)
            namespaces[m.name] = str_map(as_map(obj.get("metadata"), "metadata").get("labels"), "labels")
        elif kind == "Deployment":
            deployments.append((_meta(obj, i, namespace), obj))
        elif kind == "Pod":
            pod_objs.append((_meta(obj, i, namespace), obj))
        elif kind == "Service":
            m = _meta(obj, i, namespace)
            spec = as_map(obj.get("spec"), "Service.spec")
            ports = tuple(int(as_map(p, "ports").get("port", 0)) for p in as_list(spec.get("ports"), "ports"))
            svc = Service(m, str_map(spec.get("selector"), "selector"), ports)
            services[svc.fqdn] = svc
        elif kind in ISTIO_KINDS and api.startswith(ISTIO_GROUP + "/"):
            _check_istio_api(obj, kind)
            m = _meta(obj, i, namespace)
            if kind == "VirtualService":
                vss.append(_parse_vs(m, obj))
            elif kind == "DestinationRule":
                drs.append(_parse_dr(m, obj))
            else:
                gw = _parse_gateway(m, obj)
                gateways[gw.key] = gw
        elif kind in INERT_KINDS:
            continue
        else:
            raise OracleError(f"{kind or '<no kind>'} ({api}): the oracle does not model this kind")

    pods: list[Pod] = []
    if pod_objs:
        for m, obj in pod_objs:
            md = as_map(obj.get("metadata"), "metadata")
            labels = str_map(md.get("labels"), "labels")
            spec = as_map(obj.get("spec"), "Pod.spec")
            sidecar = _has_proxy(spec, str_map(md.get("annotations"), "annotations"))
            pods.append(
                Pod(
                    m.name,
                    m.namespace,
                    labels,
                    sidecar,
                    _workload_of(md, labels, m.name),
                    _app_image(spec),
                    True,
                    _pod_serving(obj),
                )
            )
    else:
        for m, obj in deployments:
            spec = as_map(obj.get("spec"), "Deployment.spec")
            tmpl = as_map(spec.get("template"), "template")
            tmd = as_map(tmpl.get("metadata"), "template.metadata")
            tspec = as_map(tmpl.get("spec"), "template.spec")
            labels = str_map(tmd.get("labels"), "labels")
            annotations = str_map(tmd.get("annotations"), "annotations")
            sidecar = _has_proxy(tspec, annotations) or template_injected(
                namespaces.get(m.namespace, {}), labels, annotations
            )
            replicas = spec.get("replicas", 1)
            for r in range(int(1 if replicas is None else replicas)):
                pods.append(
                    Pod(f"{m.name}-{r}", m.namespace, labels, sidecar, m.name, _app_image(tspec), False)
                )

    ingress = next(
        (dict(p.labels) for p in pods if p.labels.get("istio") == "ingressgateway"),
        dict(DEFAULT_INGRESS_LABELS),
    )
    workload_ns = frozenset(m.namespace for m, _ in deployments) | frozenset(m.namespace for m, _ in pod_objs)
    return World(
        namespaces=namespaces,
        pods=tuple(pods),
        pods_given=bool(pod_objs),
        services=services,
        virtual_services=tuple(vss),
        destination_rules=tuple(drs),
        gateways=gateways,
        workload_namespaces=workload_ns,
        ingress_labels=ingress,
    )


_VS_KEYS = frozenset({"hosts", "gateways", "http", "tcp", "tls", "exportTo"})


def _parse_vs(m: Meta, obj: Mapping[str, Any]) -> VirtualService:
    spec = as_map(obj.get("spec"), f"{m.ref} spec")
    unknown = set(spec) - _VS_KEYS
    if unknown:
        raise OracleError(f"{m.ref}: spec fields {sorted(unknown)} are not modelled")
    if spec.get("tcp") or spec.get("tls"):
        raise OracleError(f"{m.ref}: tcp/tls routes are not modelled (Bookinfo is HTTP)")
    http = tuple(as_map(r, f"{m.ref} http") for r in as_list(spec.get("http"), f"{m.ref} http"))
    if not http:
        raise OracleError(f"{m.ref}: the webhook rejects a VirtualService without http, tcp or tls routes")
    hosts = tuple(str(h) for h in as_list(spec.get("hosts"), f"{m.ref} hosts"))
    if not hosts:
        raise OracleError(f"{m.ref}: delegate VirtualServices (no hosts) are not modelled")
    written = tuple(str(g) for g in as_list(spec.get("gateways"), f"{m.ref} gateways"))
    resolved = tuple(_gateway_ref(g, m.namespace) for g in written) if written else ("mesh",)
    if "mesh" in resolved and "*" in hosts:
        raise OracleError(
            f'{m.ref}: the webhook rejects it: "wildcard host * is not allowed for virtual '
            f'services bound to the mesh gateway"'
        )
    for h in hosts:
        if "mesh" in resolved and not h.startswith("*") and "." in h and not h.endswith("." + CLUSTER_DOMAIN):
            raise OracleError(
                f'{m.ref}: mesh host "{h}" is neither a short name nor a cluster FQDN; Istio '
                f"keeps it literal and the oracle does not model how sidecars treat it"
            )
    for idx, rule in enumerate(http):
        validate_http_route(rule, f"{m.ref} http[{idx}]")
    export = tuple(str(x) for x in as_list(spec.get("exportTo"), "exportTo"))
    return VirtualService(m, hosts, resolved, written, http, export)


_ROUTE_KEYS = frozenset(
    {
        "name",
        "match",
        "route",
        "timeout",
        "retries",
        "fault",
        "mirror",
        "mirrors",
        "mirrorPercentage",
        "mirrorPercent",
        "mirror_percent",
        "headers",
        "corsPolicy",
        "redirect",
        "directResponse",
        "rewrite",
        "delegate",
    }
)


def _percent(value: Any, where: str) -> Fraction:
    v = Fraction(str(value))
    if v < 0 or v > 100:
        raise OracleError(f"{where}: percentage {value} is outside 0..100 (the webhook rejects it)")
    return v


def validate_http_route(rule: Mapping[str, Any], where: str) -> None:
    """Reject what the webhook rejects and what the oracle does not model."""
    unknown = set(rule) - _ROUTE_KEYS
    if unknown:
        raise OracleError(f"{where}: fields {sorted(unknown)} are not modelled")
    if "delegate" in rule:
        raise OracleError(f"{where}: delegate is not modelled")
    if "rewrite" in rule:
        raise OracleError(f"{where}: rewrite changes the path the app sees; not modelled")
    if "redirect" in rule:
        raise OracleError(f"{where}: redirect is not modelled (clients may follow it)")
    if "mirror" in rule and "mirrors" in rule:
        raise OracleError(f"{where}: the webhook rejects mirror together with mirrors")
    dests = as_list(rule.get("route"), f"{where} route")
    if not dests and "directResponse" not in rule:
        raise OracleError(f"{where}: a rule needs route, redirect or directResponse")
    weights = []
    for d in dests:
        d = as_map(d, f"{where} route")
        w = int(d.get("weight", 0) or 0)
        if w < 0:
            raise OracleError(f"{where}: negative weight {w} (the webhook rejects it)")
        weights.append(w)
        if not as_map(d.get("destination"), f"{where} destination").get("host"):
            raise OracleError(f"{where}: destination without host")
    if len(dests) > 1 and sum(weights) == 0:
        raise OracleError(f"{where}: total destination weight is 0 (the webhook rejects it)")
    fault = rule.get("fault")
    if fault is not None:
        fault = as_map(fault, f"{where} fault")
        if not fault.get("delay") and not fault.get("abort"):
            raise OracleError(f"{where}: the webhook rejects a fault with neither delay nor abort")
        abort = as_map(fault.get("abort"), f"{where} abort")
        if abort:
            if "httpStatus" not in abort:
                raise OracleError(f"{where}: only abort.httpStatus is modelled (not grpcStatus/http2Error)")
            if not 200 <= int(abort["httpStatus"]) <= 599:
                raise OracleError(f"{where}: abort status {abort['httpStatus']} outside 200-599")
            if "percent" in abort:
                raise OracleError(f"{where}: abort.percent was removed from the API")
        delay = as_map(fault.get("delay"), f"{where} delay")
        if delay and "fixedDelay" not in delay:
            raise OracleError(f"{where}: only delay.fixedDelay is modelled")
    for key in ("mirrorPercentage", "mirrorPercent", "mirror_percent"):
        if key in rule:
            raw = rule[key]
            _percent(as_map(raw, key).get("value", 0) if isinstance(raw, Mapping) else raw, f"{where} {key}")
    retries = as_map(rule.get("retries"), f"{where} retries")
    if retries.get("perTryTimeout"):
        raise OracleError(f"{where}: retries.perTryTimeout is not modelled")


def _parse_dr(m: Meta, obj: Mapping[str, Any]) -> DestinationRule:
    spec = as_map(obj.get("spec"), f"{m.ref} spec")
    unknown = set(spec) - {"host", "subsets", "trafficPolicy", "exportTo", "workloadSelector"}
    if unknown:
        raise OracleError(f"{m.ref}: spec fields {sorted(unknown)} are not modelled")
    if spec.get("workloadSelector"):
        raise OracleError(f"{m.ref}: workloadSelector is not modelled")
    host = spec.get("host")
    if not host:
        raise OracleError(f"{m.ref}: no host")
    policy = as_map(spec.get("trafficPolicy"), f"{m.ref} trafficPolicy")
    _check_policy(policy, m.ref)
    subsets = []
    for s in as_list(spec.get("subsets"), f"{m.ref} subsets"):
        s = as_map(s, f"{m.ref} subsets")
        sp = as_map(s.get("trafficPolicy"), f"{m.ref} subset trafficPolicy")
        _check_policy(sp, f"{m.ref} subset {s.get('name')}")
        subsets.append(Subset(str(s.get("name")), str_map(s.get("labels"), "labels"), sp))
    export = tuple(str(x) for x in as_list(spec.get("exportTo"), "exportTo"))
    return DestinationRule(m, str(host), tuple(subsets), policy, export)


def _check_policy(policy: Mapping[str, Any], where: str) -> None:
    """Load balancing by simple algorithm and outlier detection keep per-pod shares equal; the rest do not."""
    for key, value in policy.items():
        if key == "loadBalancer":
            lb = as_map(value, "loadBalancer")
            if set(lb) - {"simple"}:
                raise OracleError(
                    f"{where}: loadBalancer {sorted(lb)} (consistent hash, locality) is not modelled"
                )
        elif key == "outlierDetection":
            continue  # healthy endpoints are never ejected; the oracle's failures are local replies
        elif key == "tls":
            mode = as_map(value, "tls").get("mode", "DISABLE")
            if mode not in ("DISABLE", "ISTIO_MUTUAL"):
                raise OracleError(f"{where}: tls mode {mode} is not modelled")
        elif key == "portLevelSettings":
            for pls in as_list(value, "portLevelSettings"):
                _check_policy(
                    {k: v for k, v in as_map(pls, "portLevelSettings").items() if k != "port"}, where
                )
        else:
            raise OracleError(f"{where}: trafficPolicy.{key} is load-dependent or not modelled")


def _parse_gateway(m: Meta, obj: Mapping[str, Any]) -> Gateway:
    spec = as_map(obj.get("spec"), f"{m.ref} spec")
    servers = []
    for s in as_list(spec.get("servers"), f"{m.ref} servers"):
        s = as_map(s, f"{m.ref} servers")
        port = as_map(s.get("port"), f"{m.ref} port")
        servers.append(
            Server(
                int(port.get("number", 0)),
                str(port.get("protocol", "HTTP")).upper(),
                tuple(str(h) for h in as_list(s.get("hosts"), "hosts")),
            )
        )
    return Gateway(m, str_map(spec.get("selector"), "selector"), tuple(servers))
