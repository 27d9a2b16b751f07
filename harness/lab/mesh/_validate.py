"""The validating webhook: refuse Istio networking objects the way istiod (and the CRD schema) would.

Pure: dict in, list of FieldError out. Schema walk reports unknown fields with their path (Kubernetes strict
decoding: `unknown field "spec.http[0].rout"`); semantic checks follow pkg/config/validation/validation.go
(wording from Istio where known). Legacy aliases are accepted: mirrorPercent, mirror_percent, delay.percent,
consecutiveErrors, LEAST_CONN.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._options import MeshOptions, parse_duration

ISTIO_GROUP = "networking.istio.io"
SERVED_VERSIONS = frozenset({"v1alpha3", "v1beta1", "v1"})
KINDS = frozenset({"VirtualService", "DestinationRule", "Gateway", "ServiceEntry", "Sidecar"})


@dataclass(frozen=True, slots=True)
class FieldError:
    """One reason the webhook refuses an object: the field path and Istio's message."""

    field: str
    message: str


# ---------------------------------------------------------------------------------------------- schema
# A spec is a dict of field -> spec, ("list", spec), ("map", spec), or a scalar kind name.
_S = "str"
_I = "int"
_N = "num"
_B = "bool"
_D = "dur"
_ANY = "any"
SM = {"exact": _S, "prefix": _S, "regex": _S}
PCT = {"value": _N}
PORT_SEL = {"number": _I}
DEST = {"host": _S, "subset": _S, "port": PORT_SEL}
HEADER_OPS = {"set": ("map", _S), "add": ("map", _S), "remove": ("list", _S)}
HEADERS = {"request": HEADER_OPS, "response": HEADER_OPS}
HTTP_MATCH = {
    "name": _S,
    "uri": SM,
    "scheme": SM,
    "method": SM,
    "authority": SM,
    "headers": ("map", SM),
    "port": _I,
    "sourceLabels": ("map", _S),
    "gateways": ("list", _S),
    "queryParams": ("map", SM),
    "ignoreUriCase": _B,
    "withoutHeaders": ("map", SM),
    "sourceNamespace": _S,
    "statPrefix": _S,
}
HTTP_ROUTE = {
    "name": _S,
    "match": ("list", HTTP_MATCH),
    "route": ("list", {"destination": DEST, "weight": _I, "headers": HEADERS}),
    "redirect": {
        "uri": _S,
        "authority": _S,
        "port": _I,
        "derivePort": _S,
        "scheme": _S,
        "redirectCode": _I,
    },
    "directResponse": {"status": _I, "body": {"string": _S, "bytes": _S}},
    "delegate": {"name": _S, "namespace": _S},
    "rewrite": {"uri": _S, "authority": _S, "uriRegexRewrite": {"match": _S, "rewrite": _S}},
    "timeout": _D,
    "retries": {"attempts": _I, "perTryTimeout": _D, "retryOn": _S, "retryRemoteLocalities": _B},
    "fault": {
        "delay": {"fixedDelay": _D, "exponentialDelay": _D, "percentage": PCT, "percent": _I},
        "abort": {"httpStatus": _I, "grpcStatus": _S, "http2Error": _S, "percentage": PCT},
    },
    "mirror": DEST,
    "mirrorPercent": _I,
    "mirror_percent": _I,
    "mirrorPercentage": PCT,
    "mirrors": ("list", {"destination": DEST, "percentage": PCT}),
    "corsPolicy": {
        "allowOrigin": ("list", _S),
        "allowOrigins": ("list", SM),
        "allowMethods": ("list", _S),
        "allowHeaders": ("list", _S),
        "exposeHeaders": ("list", _S),
        "maxAge": _D,
        "allowCredentials": _B,
        "unmatchedPreflights": _S,
    },
    "headers": HEADERS,
}
L4_MATCH = {
    "destinationSubnets": ("list", _S),
    "port": _I,
    "sourceLabels": ("map", _S),
    "gateways": ("list", _S),
    "sourceNamespace": _S,
    "sniHosts": ("list", _S),
    "sourceSubnet": _S,
}
L4_ROUTE = {"match": ("list", L4_MATCH), "route": ("list", {"destination": DEST, "weight": _I})}
VS_SPEC = {
    "hosts": ("list", _S),
    "gateways": ("list", _S),
    "http": ("list", HTTP_ROUTE),
    "tls": ("list", L4_ROUTE),
    "tcp": ("list", L4_ROUTE),
    "exportTo": ("list", _S),
}
LB = {
    "simple": _S,
    "consistentHash": {
        "httpHeaderName": _S,
        "httpCookie": {"name": _S, "path": _S, "ttl": _D, "attributes": ("list", _ANY)},
        "useSourceIp": _B,
        "httpQueryParameterName": _S,
        "ringHash": {"minimumRingSize": _I},
        "maglev": {"tableSize": _I},
        "minimumRingSize": _I,
    },
    "localityLbSetting": _ANY,
    "warmupDurationSecs": _D,
    "warmup": _ANY,
}
POOL = {
    "tcp": {
        "maxConnections": _I,
        "connectTimeout": _D,
        "tcpKeepalive": {"probes": _I, "time": _D, "interval": _D},
        "maxConnectionDuration": _D,
        "idleTimeout": _D,
    },
    "http": {
        "http1MaxPendingRequests": _I,
        "http2MaxRequests": _I,
        "maxRequestsPerConnection": _I,
        "maxRetries": _I,
        "idleTimeout": _D,
        "h2UpgradePolicy": _S,
        "useClientProtocol": _B,
        "maxConcurrentStreams": _I,
    },
}
OUTLIER = {
    "splitExternalLocalOriginErrors": _B,
    "consecutiveLocalOriginFailures": _I,
    "consecutiveGatewayErrors": _I,
    "consecutive5xxErrors": _I,
    "consecutiveErrors": _I,
    "interval": _D,
    "baseEjectionTime": _D,
    "maxEjectionPercent": _I,
    "minHealthPercent": _I,
}
CLIENT_TLS = {
    "mode": _S,
    "clientCertificate": _S,
    "privateKey": _S,
    "caCertificates": _S,
    "credentialName": _S,
    "subjectAltNames": ("list", _S),
    "sni": _S,
    "insecureSkipVerify": _B,
    "caCrl": _S,
}
PORT_POLICY = {
    "port": PORT_SEL,
    "loadBalancer": LB,
    "connectionPool": POOL,
    "outlierDetection": OUTLIER,
    "tls": CLIENT_TLS,
}
TRAFFIC_POLICY = {
    **PORT_POLICY,
    "portLevelSettings": ("list", PORT_POLICY),
    "tunnel": _ANY,
    "proxyProtocol": _ANY,
}
TRAFFIC_POLICY.pop("port")
DR_SPEC = {
    "host": _S,
    "trafficPolicy": TRAFFIC_POLICY,
    "subsets": ("list", {"name": _S, "labels": ("map", _S), "trafficPolicy": TRAFFIC_POLICY}),
    "exportTo": ("list", _S),
    "workloadSelector": {"matchLabels": ("map", _S)},
}
GW_SPEC = {
    "selector": ("map", _S),
    "servers": (
        "list",
        {
            "port": {"number": _I, "protocol": _S, "name": _S, "targetPort": _I},
            "bind": _S,
            "hosts": ("list", _S),
            "tls": _ANY,
            "defaultEndpoint": _S,
            "name": _S,
        },
    ),
}
SCHEMAS: dict[str, Any] = {"VirtualService": VS_SPEC, "DestinationRule": DR_SPEC, "Gateway": GW_SPEC}
PROTOCOLS = frozenset(
    {"HTTP", "HTTPS", "GRPC", "GRPC-WEB", "HTTP2", "MONGO", "TCP", "TLS", "REDIS", "MYSQL", "UDP"}
)
LB_SIMPLE = frozenset({"UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST"})


def _type_ok(kind: str, value: Any) -> str | None:
    if kind == _S and not isinstance(value, str):
        return "must be a string"
    if kind == _I and (isinstance(value, bool) or not isinstance(value, int)):
        return "must be an integer"
    if kind == _N and (isinstance(value, bool) or not isinstance(value, int | float)):
        return "must be a number"
    if kind == _B and not isinstance(value, bool):
        return "must be a boolean"
    if kind == _D:
        try:
            parse_duration(value)
        except ValueError:
            return f"invalid duration {value!r}".replace("'", '"')
    return None


def _walk(value: Any, spec: Any, path: str, errors: list[FieldError]) -> None:
    if value is None or spec == _ANY:
        return
    if isinstance(spec, dict):
        if not isinstance(value, Mapping):
            errors.append(FieldError(path, "must be an object"))
            return
        for key, sub in value.items():
            child = f"{path}.{key}"
            if key not in spec:
                errors.append(FieldError(child, f'unknown field "{child}"'))
            else:
                _walk(sub, spec[key], child, errors)
    elif isinstance(spec, tuple):
        container, item = spec
        if container == "list":
            if not isinstance(value, list):
                errors.append(FieldError(path, "must be a list"))
                return
            for i, sub in enumerate(value):
                _walk(sub, item, f"{path}[{i}]", errors)
        else:
            if not isinstance(value, Mapping):
                errors.append(FieldError(path, "must be an object"))
                return
            for key, sub in value.items():
                _walk(sub, item, f"{path}.{key}", errors)
    else:
        problem = _type_ok(spec, value)
        if problem:
            errors.append(FieldError(path, problem))


# ---------------------------------------------------------------------------------------------- semantics


def _percentage(raw: Any, path: str, errors: list[FieldError]) -> None:
    if isinstance(raw, Mapping) and isinstance(raw.get("value"), int | float):
        v = raw["value"]
        if v < 0 or v > 100:
            errors.append(FieldError(f"{path}.value", f"percentage {v} is not in range 0..100"))


def _regexes(match: Mapping[str, Any], path: str, errors: list[FieldError]) -> None:
    def check(sm: Any, where: str) -> None:
        if isinstance(sm, Mapping) and isinstance(sm.get("regex"), str) and sm["regex"] != "*":
            try:
                re.compile(sm["regex"])
            except re.error:
                errors.append(FieldError(f"{where}.regex", f'"{sm["regex"]}" is not a valid regex'))

    for key in ("uri", "scheme", "method", "authority"):
        check(match.get(key), f"{path}.{key}")
    for group in ("headers", "withoutHeaders", "queryParams"):
        for name, sm in (match.get(group) or {}).items() if isinstance(match.get(group), Mapping) else ():
            check(sm, f"{path}.{group}.{name}")


def _weights(routes: Any, path: str, options: MeshOptions, errors: list[FieldError]) -> None:
    if not isinstance(routes, list):
        return
    total = 0
    for j, d in enumerate(routes):
        if not isinstance(d, Mapping):
            continue
        w = d.get("weight", 0)
        if isinstance(w, int) and not isinstance(w, bool):
            if w < 0:
                errors.append(FieldError(f"{path}[{j}].weight", f"weight {w} < 0"))
            total += w
        dest = d.get("destination")
        if not isinstance(dest, Mapping) or not dest.get("host"):
            errors.append(FieldError(f"{path}[{j}].destination.host", "destination host is required"))
    if len(routes) > 1:
        if total == 0:
            errors.append(FieldError(path, "total destination weight = 0"))
        elif options.strict_weight_sum and total != 100:
            errors.append(FieldError(path, f"total destination weight {total} != 100"))


def _duration_min(raw: Any, path: str, errors: list[FieldError]) -> None:
    try:
        if raw is not None and parse_duration(raw) < 0.001:
            errors.append(FieldError(path, "duration must be greater than 1ms"))
    except ValueError:
        pass  # reported by the schema walk


def _validate_http(i: int, r: Mapping[str, Any], options: MeshOptions, errors: list[FieldError]) -> None:
    p = f"spec.http[{i}]"
    has_route = bool(r.get("route"))
    redirect = r.get("redirect")
    direct = r.get("directResponse")
    if redirect is not None:
        if has_route:
            errors.append(FieldError(p, "HTTP route cannot contain both route and redirect"))
        if r.get("fault") is not None:
            errors.append(FieldError(p, "HTTP route cannot contain both fault and redirect"))
        if r.get("rewrite") is not None:
            errors.append(FieldError(p, "HTTP route rule cannot contain both rewrite and redirect"))
        if direct is not None:
            errors.append(FieldError(p, "HTTP route cannot contain both redirect and direct_response"))
        code = redirect.get("redirectCode") if isinstance(redirect, Mapping) else None
        if isinstance(code, int) and not 300 <= code <= 399:
            errors.append(FieldError(f"{p}.redirect.redirectCode", f"{code} is not a valid redirect code"))
    if direct is not None:
        if has_route:
            errors.append(FieldError(p, "HTTP route cannot contain both route and direct_response"))
        status = direct.get("status") if isinstance(direct, Mapping) else None
        if not isinstance(status, int) or not 200 <= status <= 599:
            errors.append(
                FieldError(f"{p}.directResponse.status", f"HTTP status {status} is not in range 200-599")
            )
    if not has_route and redirect is None and direct is None and r.get("delegate") is None:
        errors.append(FieldError(p, "HTTP route, redirect or direct_response is required"))
    _weights(r.get("route"), f"{p}.route", options, errors)
    for j, m in enumerate(r.get("match") or ()):
        if isinstance(m, Mapping):
            _regexes(m, f"{p}.match[{j}]", errors)
    if r.get("mirror") is not None and r.get("mirrors"):
        errors.append(FieldError(p, "`mirror` and `mirrors` cannot be used together"))
    mp = r.get("mirrorPercentage")
    if isinstance(mp, Mapping) and isinstance(mp.get("value"), int | float):
        if mp["value"] > 100:
            errors.append(
                FieldError(f"{p}.mirrorPercentage", "mirror_percentage must have a max value of 100")
            )
        elif mp["value"] < 0:
            errors.append(
                FieldError(f"{p}.mirrorPercentage", f"percentage {mp['value']} is not in range 0..100")
            )
    for legacy in ("mirrorPercent", "mirror_percent"):
        v = r.get(legacy)
        if isinstance(v, int) and not 0 <= v <= 100:
            errors.append(FieldError(f"{p}.{legacy}", "mirror_percent must have a max value of 100"))
    for k, m in enumerate(r.get("mirrors") or ()):
        if isinstance(m, Mapping):
            _percentage(m.get("percentage"), f"{p}.mirrors[{k}].percentage", errors)
    fault = r.get("fault")
    if isinstance(fault, Mapping):
        delay, abort = fault.get("delay"), fault.get("abort")
        if delay is None and abort is None:
            errors.append(FieldError(f"{p}.fault", "fault must have an abort or delay"))
        if isinstance(delay, Mapping):
            _percentage(delay.get("percentage"), f"{p}.fault.delay.percentage", errors)
            pct = delay.get("percent")
            if isinstance(pct, int) and not 0 <= pct <= 100:
                errors.append(
                    FieldError(f"{p}.fault.delay.percent", f"percentage {pct} is not in range 0..100")
                )
            if delay.get("fixedDelay") is None and delay.get("exponentialDelay") is None:
                errors.append(FieldError(f"{p}.fault.delay", "fixedDelay is required"))
            _duration_min(delay.get("fixedDelay"), f"{p}.fault.delay.fixedDelay", errors)
        if isinstance(abort, Mapping):
            _percentage(abort.get("percentage"), f"{p}.fault.abort.percentage", errors)
            status = abort.get("httpStatus")
            if isinstance(status, int) and not 200 <= status <= 599:
                errors.append(
                    FieldError(f"{p}.fault.abort.httpStatus", f"HTTP status {status} is not in range 200-599")
                )
            if status is None and abort.get("grpcStatus") is None and abort.get("http2Error") is None:
                errors.append(
                    FieldError(f"{p}.fault.abort", "abort must have httpStatus, grpcStatus or http2Error")
                )
    retries = r.get("retries")
    if isinstance(retries, Mapping):
        attempts = retries.get("attempts")
        if isinstance(attempts, int) and attempts < 0:
            errors.append(FieldError(f"{p}.retries.attempts", "attempts cannot be negative"))
        _duration_min(retries.get("perTryTimeout"), f"{p}.retries.perTryTimeout", errors)
    _duration_min(r.get("timeout"), f"{p}.timeout", errors)


def _validate_vs(spec: Mapping[str, Any], options: MeshOptions, errors: list[FieldError]) -> None:
    hosts = spec.get("hosts") or []
    gateways = spec.get("gateways") or []
    if not hosts and gateways:
        errors.append(FieldError("spec.gateways", "delegate virtual service must have no gateways specified"))
    mesh_bound = not gateways or "mesh" in gateways
    seen: dict[str, int] = {}
    for i, h in enumerate(hosts):
        if h == "*" and mesh_bound:
            errors.append(
                FieldError(
                    f"spec.hosts[{i}]",
                    "wildcard host * is not allowed for virtual services bound to the mesh gateway",
                )
            )
        if h in seen:
            errors.append(FieldError(f"spec.hosts[{i}]", f"duplicate hosts in virtual service: {h} & {h}"))
        seen.setdefault(h, i)
    if not spec.get("http") and not spec.get("tcp") and not spec.get("tls"):
        errors.append(FieldError("spec", "http, tcp or tls must be provided in virtual service"))
    for i, r in enumerate(spec.get("http") or ()):
        if isinstance(r, Mapping):
            _validate_http(i, r, options, errors)
    for proto in ("tcp", "tls"):
        for i, r in enumerate(spec.get(proto) or ()):
            if isinstance(r, Mapping):
                _weights(r.get("route"), f"spec.{proto}[{i}].route", options, errors)


def _validate_policy(tp: Any, path: str, errors: list[FieldError]) -> None:
    if not isinstance(tp, Mapping):
        return
    lb = tp.get("loadBalancer")
    if isinstance(lb, Mapping) and isinstance(lb.get("simple"), str) and lb["simple"] not in LB_SIMPLE:
        errors.append(FieldError(f"{path}.loadBalancer.simple", f'Unsupported value: "{lb["simple"]}"'))
    od = tp.get("outlierDetection")
    if isinstance(od, Mapping):
        for key in ("consecutive5xxErrors", "consecutiveErrors", "consecutiveGatewayErrors"):
            v = od.get(key)
            if isinstance(v, int) and v < 0:
                errors.append(
                    FieldError(
                        f"{path}.outlierDetection.{key}",
                        "outlier detection consecutive errors cannot be negative",
                    )
                )
        for key in ("maxEjectionPercent", "minHealthPercent"):
            v = od.get(key)
            if isinstance(v, int) and not 0 <= v <= 100:
                errors.append(
                    FieldError(f"{path}.outlierDetection.{key}", f"{key} must be in range [0, 100]")
                )
    pool = tp.get("connectionPool")
    if isinstance(pool, Mapping):
        for part in ("tcp", "http"):
            for key, v in (pool.get(part) or {}).items() if isinstance(pool.get(part), Mapping) else ():
                if isinstance(v, int) and not isinstance(v, bool) and v < 0:
                    errors.append(
                        FieldError(f"{path}.connectionPool.{part}.{key}", f"{key} must be non-negative")
                    )
    for k, pls in enumerate(tp.get("portLevelSettings") or ()):
        _validate_policy(pls, f"{path}.portLevelSettings[{k}]", errors)


def _validate_dr(spec: Mapping[str, Any], errors: list[FieldError]) -> None:
    if not spec.get("host"):
        errors.append(FieldError("spec.host", "host must be set"))
    _validate_policy(spec.get("trafficPolicy"), "spec.trafficPolicy", errors)
    names: set[str] = set()
    for i, sub in enumerate(spec.get("subsets") or ()):
        if not isinstance(sub, Mapping):
            continue
        name = sub.get("name")
        if not name:
            errors.append(FieldError(f"spec.subsets[{i}].name", "subset name is required"))
        elif name in names:
            errors.append(FieldError(f"spec.subsets[{i}].name", f"duplicate subset name: {name}"))
        names.add(str(name))
        _validate_policy(sub.get("trafficPolicy"), f"spec.subsets[{i}].trafficPolicy", errors)


def _validate_gateway(spec: Mapping[str, Any], errors: list[FieldError]) -> None:
    servers = spec.get("servers")
    if not servers:
        errors.append(FieldError("spec.servers", "gateway must have at least one server"))
        return
    for i, s in enumerate(servers):
        if not isinstance(s, Mapping):
            continue
        p = f"spec.servers[{i}]"
        port = s.get("port")
        if not isinstance(port, Mapping):
            errors.append(FieldError(f"{p}.port", "port is required"))
        else:
            num = port.get("number")
            if not isinstance(num, int) or not 0 < num <= 65535:
                errors.append(
                    FieldError(f"{p}.port.number", f"port number {num} must be in the range 1..2^16-1")
                )
            proto = str(port.get("protocol") or "").upper()
            if proto not in PROTOCOLS:
                errors.append(
                    FieldError(f"{p}.port.protocol", f'unrecognized protocol "{port.get("protocol")}"')
                )
        if not s.get("hosts"):
            errors.append(FieldError(f"{p}.hosts", "server config must contain at least one host"))


def validate(obj: Mapping[str, Any], *, options: MeshOptions = MeshOptions()) -> list[FieldError]:  # noqa: B008
    """Refusals for one object (empty = admitted). Non-Istio objects are not checked here."""
    api_version = str(obj.get("apiVersion") or "")
    group, _, version = api_version.partition("/")
    if group != ISTIO_GROUP:
        return []
    kind = str(obj.get("kind") or "")
    if version not in SERVED_VERSIONS or kind not in KINDS:
        return [FieldError("apiVersion", f'no matches for kind "{kind}" in version "{api_version}"')]
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return [FieldError("spec", "spec is required")]
    errors: list[FieldError] = []
    schema = SCHEMAS.get(kind)
    if schema is not None:
        _walk(spec, schema, "spec", errors)
    if kind == "VirtualService":
        _validate_vs(spec, options, errors)
    elif kind == "DestinationRule":
        _validate_dr(spec, errors)
    elif kind == "Gateway":
        _validate_gateway(spec, errors)
    elif kind == "ServiceEntry":
        if not spec.get("hosts"):
            errors.append(FieldError("spec.hosts", "service entry must have at least one host"))
    elif kind == "Sidecar":
        for i, eg in enumerate(spec.get("egress") or ()):
            if not isinstance(eg, Mapping) or not eg.get("hosts"):
                errors.append(
                    FieldError(f"spec.egress[{i}].hosts", "sidecar: egress listener must have hosts")
                )
    return errors
