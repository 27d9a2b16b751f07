"""How one proxy routes one HTTP call: VS selection, rule matching, weights, subsets, faults, mirrors.

Pure. A routed call is a list of branches with exact probabilities (fractions.Fraction); the app model in
_expect.py turns branches into page states.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from harness.oracle._objects import (
    DestinationRule,
    Gateway,
    OracleError,
    Pod,
    Server,
    Service,
    Subset,
    VirtualService,
    World,
    as_list,
    as_map,
    fmt_labels,
    host_matches,
    labels_select,
    parse_duration,
    resolve_host,
)

# Headers Bookinfo sends whose values the oracle cannot know (ids, trace context, signed cookie, client UA).
UNKNOWABLE_HEADERS = frozenset(
    {
        "cookie",
        "user-agent",
        "x-request-id",
        "traceparent",
        "tracestate",
        "x-ot-span-context",
        "authorization",
        "jwt",
        "sw8",
        "b3",
        "x-cloud-trace-context",
        "grpc-trace-bin",
    }
)
UNKNOWABLE_PREFIXES = ("x-b3-", "x-datadog-", "x-envoy-", "x-forwarded-")
INGRESS_PORTS = {80: (80, 8080), 8080: (80, 8080), 443: (443, 8443), 8443: (443, 8443)}


@dataclass(frozen=True, slots=True)
class Proxy:
    """Who makes a call: a workload (with or without sidecar) or the ingress gateway."""

    namespace: str
    labels: Mapping[str, str]
    sidecar: bool
    gateway: str | None = None  # "ns/name" of the Gateway whose server took the request
    server_port: int | None = None


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request as the proxy sees it."""

    path: str  # may carry a query string
    headers: Mapping[str, str]  # lowercase keys; only headers whose value is known
    authority: str | None  # None = unknown (an IP:port the client typed)
    port: int
    method: str = "GET"
    scheme: str = "http"


@dataclass(frozen=True, slots=True)
class Branch:
    """One way a routed call ends at the proxy: at a pod, or a local reply."""

    p: Fraction
    pod: Pod | None
    status: int | None = None  # local reply status (None when forwarded to a pod)
    flag: str | None = None  # Envoy response flag or "CONNECT" (refused, no proxy)
    delay: Fraction = Fraction(0)  # fault delay before forwarding (does not count against the route timeout)
    timeout: Fraction | None = None  # route timeout (None = disabled)
    headers: Mapping[str, str] = field(default_factory=dict)  # headers the pod receives


@dataclass(frozen=True, slots=True)
class Routed:
    branches: tuple[Branch, ...]
    mirrors: Mapping[str, Fraction]  # workload -> expected copies per call
    source: (
        str  # what decided: "VirtualService default/reviews" or "Service default/reviews (no VirtualService)"
    )
    notes: tuple[str, ...]


# ----------------------------------------------------------------------------------------------------
# matching


def _string_match(spec: Any, value: str | None, where: str, *, ignore_case: bool = False) -> bool:
    """Istio StringMatch. An empty match (or regex "*") means 'present'."""
    spec = as_map(spec, where)
    if not spec or spec.get("regex") == "*":
        return value is not None
    if len(spec) != 1:
        raise OracleError(
            f"{where}: a StringMatch takes exactly one of exact/prefix/regex, got {sorted(spec)}"
        )
    if value is None:
        return False
    ((kind, pattern),) = spec.items()
    pattern = str(pattern)
    if kind == "exact":
        return value.lower() == pattern.lower() if ignore_case else value == pattern
    if kind == "prefix":
        return value.lower().startswith(pattern.lower()) if ignore_case else value.startswith(pattern)
    if kind == "regex":
        try:
            return re.fullmatch(pattern, value) is not None
        except re.error as exc:
            raise OracleError(f"{where}: regex {pattern!r} is not understood: {exc}") from exc
    raise OracleError(f"{where}: unknown StringMatch kind {kind!r}")


def _check_header_name(name: str, where: str) -> None:
    if name in UNKNOWABLE_HEADERS or name.startswith(UNKNOWABLE_PREFIXES):
        raise OracleError(f"{where}: matching on header {name!r} depends on values the oracle cannot know")


_MATCH_KEYS = frozenset(
    {
        "name",
        "uri",
        "scheme",
        "method",
        "authority",
        "headers",
        "withoutHeaders",
        "queryParams",
        "port",
        "sourceLabels",
        "sourceNamespace",
        "gateways",
        "ignoreUriCase",
        "statPrefix",
    }
)


def selector_admits(block: Mapping[str, Any], proxy: Proxy, vs_ns: str) -> bool:
    """Config-time selectors (port, sourceLabels, sourceNamespace, gateways): does the block exist here?"""
    if "port" in block:
        port = proxy.server_port if proxy.gateway else 9080
        if int(block["port"]) != port:
            return False
    if "sourceLabels" in block and not labels_select(
        {str(k): str(v) for k, v in as_map(block["sourceLabels"], "sourceLabels").items()}, proxy.labels
    ):
        return False
    if "sourceNamespace" in block and str(block["sourceNamespace"]) != proxy.namespace:
        return False
    if "gateways" in block:
        refs = {g if g == "mesh" or "/" in g else f"{vs_ns}/{g}" for g in map(str, block["gateways"])}
        if (proxy.gateway or "mesh") not in refs:
            return False
    return True


def block_matches(block: Mapping[str, Any], call: Call, where: str) -> bool:
    """Runtime part of one HTTPMatchRequest (fields ANDed)."""
    unknown = set(block) - _MATCH_KEYS
    if unknown:
        raise OracleError(f"{where}: match fields {sorted(unknown)} are not modelled")
    parts = urlsplit(call.path)
    path = parts.path
    if "uri" in block and not _string_match(
        block["uri"], path, f"{where} uri", ignore_case=bool(block.get("ignoreUriCase"))
    ):
        return False
    if "scheme" in block and not _string_match(block["scheme"], call.scheme, f"{where} scheme"):
        return False
    if "method" in block and not _string_match(block["method"], call.method, f"{where} method"):
        return False
    if "authority" in block:
        if call.authority is None:
            raise OracleError(f"{where}: authority match needs the request's Host, which is unknown")
        if not _string_match(block["authority"], call.authority, f"{where} authority"):
            return False
    for name, spec in as_map(block.get("headers"), "headers").items():
        name = str(name).lower()
        if name in ("uri", "scheme", "method", "authority"):
            continue  # pilot ignores these keys here
        _check_header_name(name, where)
        if not _string_match(spec, call.headers.get(name), f"{where} headers.{name}"):
            return False
    for name, spec in as_map(block.get("withoutHeaders"), "withoutHeaders").items():
        name = str(name).lower()
        _check_header_name(name, where)
        spec_map = as_map(spec, "withoutHeaders")
        value = call.headers.get(name)
        present_only = not spec_map or spec_map.get("regex") == "*"
        hit = value is not None if present_only else _string_match(spec_map, value or "", f"{where} without")
        if hit:
            return False
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for name, spec in as_map(block.get("queryParams"), "queryParams").items():
        spec_map = as_map(spec, "queryParams")
        if "prefix" in spec_map:
            raise OracleError(f"{where}: queryParams prefix is not supported by Istio")
        if not _string_match(spec_map, query.get(str(name)), f"{where} queryParams.{name}"):
            return False
    return True


def is_catch_all(rule: Mapping[str, Any]) -> bool:
    """No match, an empty match block, or a lone uri prefix "/" / regex "*" (pilot's isCatchAllMatch)."""
    blocks = as_list(rule.get("match"), "match")
    if not blocks:
        return True
    for b in blocks:
        b = as_map(b, "match")
        keys = set(b) - {"name", "statPrefix"}
        if not keys:
            return True
        if keys == {"uri"}:
            uri = as_map(b["uri"], "uri")
            if uri == {"prefix": "/"} or uri == {"regex": "*"}:
                return True
    return False


def applicable_rules(vs: VirtualService, proxy: Proxy) -> list[tuple[int, Mapping[str, Any], list[Any]]]:
    """Rules (index, rule, surviving match blocks) existing for this proxy, cut after the first catch-all."""
    out: list[tuple[int, Mapping[str, Any], list[Any]]] = []
    for idx, rule in enumerate(vs.http):
        blocks = [as_map(b, "match") for b in as_list(rule.get("match"), "match")]
        if blocks:
            kept = [b for b in blocks if selector_admits(b, proxy, vs.meta.namespace)]
            if not kept:
                continue
            out.append((idx, rule, kept))
            if any(
                not (set(b) - {"name", "statPrefix", "port", "sourceLabels", "sourceNamespace", "gateways"})
                for b in kept
            ) or is_catch_all({"match": kept}):
                break
        else:
            out.append((idx, rule, []))
            break
    return out


def first_match(
    rules: Sequence[tuple[int, Mapping[str, Any], list[Any]]], call: Call, where: str
) -> tuple[int, Mapping[str, Any]] | None:
    for idx, rule, blocks in rules:
        if not blocks or any(block_matches(b, call, f"{where} http[{idx}]") for b in blocks):
            return idx, rule
    return None


# ----------------------------------------------------------------------------------------------------
# registry look-ups


def mesh_virtual_services(world: World, fqdn: str, viewer_ns: str) -> list[VirtualService]:
    """Mesh-bound VSs for a service host, the winner first (exact host before wildcard, then oldest)."""
    exact = [
        v
        for v in world.virtual_services
        if v.binds_mesh and v.visible_from(viewer_ns) and fqdn in v.fqdn_hosts
    ]
    if exact:
        return sorted(exact, key=lambda v: v.meta.age_key())
    wild = [
        v
        for v in world.virtual_services
        if v.binds_mesh
        and v.visible_from(viewer_ns)
        and any(h.startswith("*") and host_matches(h, fqdn) for h in v.fqdn_hosts)
    ]
    return sorted(wild, key=lambda v: (-max(len(h) for h in v.fqdn_hosts), v.meta.age_key()))


def destination_rules(world: World, fqdn: str, viewer_ns: str) -> list[DestinationRule]:
    found = [
        d
        for d in world.destination_rules
        if host_matches(d.fqdn_host, fqdn)
        and (
            not d.export_to
            or "*" in d.export_to
            or viewer_ns in d.export_to
            or ("." in d.export_to and viewer_ns == d.meta.namespace)
        )
    ]
    return sorted(found, key=lambda d: (d.fqdn_host != fqdn, d.meta.age_key()))


def find_subset(world: World, fqdn: str, name: str, viewer_ns: str) -> tuple[Subset, DestinationRule] | None:
    """Merged DRs for one host: the first definition of a subset name wins."""
    for dr in destination_rules(world, fqdn, viewer_ns):
        for s in dr.subsets:
            if s.name == name:
                return s, dr
    return None


def tls_mode(dr: DestinationRule | None, subset: Subset | None) -> str:
    for policy in ((subset.policy if subset else {}), (dr.policy if dr else {})):
        if "tls" in policy:
            return str(as_map(policy["tls"], "tls").get("mode", "DISABLE"))
    return "DISABLE"


# ----------------------------------------------------------------------------------------------------
# routing


def _fault_branches(rule: Mapping[str, Any], where: str) -> list[tuple[Fraction, Fraction, int | None]]:
    """(probability, delay seconds, abort status or None); delay and abort are decided independently."""
    fault = as_map(rule.get("fault"), "fault")
    if not fault:
        return [(Fraction(1), Fraction(0), None)]
    delay = as_map(fault.get("delay"), "delay")
    abort = as_map(fault.get("abort"), "abort")
    pd = pa = Fraction(0)
    d = Fraction(0)
    if delay:
        d = parse_duration(delay["fixedDelay"], f"{where} fixedDelay")
        if "percentage" in delay:
            pd = Fraction(str(as_map(delay["percentage"], "percentage").get("value", 0))) / 100
        elif "percent" in delay:
            pd = Fraction(int(delay["percent"]), 100)
    status = int(abort["httpStatus"]) if abort else None
    if abort and "percentage" in abort:
        pa = Fraction(str(as_map(abort["percentage"], "percentage").get("value", 0))) / 100
    out = []
    for p_delayed, dd in ((pd, d), (1 - pd, Fraction(0))):
        for p_abort, st in ((pa, status), (1 - pa, None)):
            if p_delayed * p_abort:
                out.append((p_delayed * p_abort, dd, st))
    return out


def _mirror_policies(rule: Mapping[str, Any], where: str) -> list[tuple[Mapping[str, Any], Fraction]]:
    out = []
    if "mirror" in rule:
        if "mirrorPercentage" in rule:
            pct = Fraction(str(as_map(rule["mirrorPercentage"], "mirrorPercentage").get("value", 0)))
        elif "mirrorPercent" in rule or "mirror_percent" in rule:
            pct = Fraction(int(rule.get("mirrorPercent", rule.get("mirror_percent", 0))))
        else:
            pct = Fraction(100)  # absent: everything is mirrored
        out.append((as_map(rule["mirror"], f"{where} mirror"), pct / 100))
    for m in as_list(rule.get("mirrors"), f"{where} mirrors"):
        m = as_map(m, f"{where} mirrors")
        raw = m.get("percentage")
        pct = Fraction(100) if raw is None else Fraction(str(as_map(raw, "percentage").get("value", 0)))
        out.append((as_map(m.get("destination"), f"{where} mirrors.destination"), pct / 100))
    return out


def _header_ops(ops: Any, headers: dict[str, str], where: str) -> None:
    req = as_map(as_map(ops, "headers").get("request"), "headers.request")
    for name in as_list(req.get("remove"), "remove"):
        headers.pop(str(name).lower(), None)
    for name, value in as_map(req.get("set"), "set").items():
        headers[str(name).lower()] = str(value)
    for name, value in as_map(req.get("add"), "add").items():
        key = str(name).lower()
        if key in headers:
            raise OracleError(f"{where}: headers.request.add on a present header {key!r} is not modelled")
        headers[key] = str(value)


def spread(pods: Sequence[Pod], p: Fraction, **kw: Any) -> list[Branch]:
    return [Branch(p / len(pods), pod, **kw) for pod in pods]


def _check_tls(caller: Proxy, mode: str, pods: Sequence[Pod], where: str) -> None:
    if mode == "ISTIO_MUTUAL" and (caller.sidecar or caller.gateway) and any(not p.sidecar for p in pods):
        raise OracleError(f"{where}: ISTIO_MUTUAL towards pods without a sidecar is not modelled")


def default_route(world: World, service: Service, proxy: Proxy, call: Call, why: str) -> Routed:
    pods = world.endpoints(service)
    name = f"{service.meta.namespace}/{service.meta.name}"
    if not pods:
        if proxy.sidecar or proxy.gateway:
            return Routed(
                (Branch(Fraction(1), None, 503, "UH"),),
                {},
                f"Service {name}",
                (f"{name} has no ready endpoints: 503 UH (no healthy upstream)",),
            )
        return Routed(
            (Branch(Fraction(1), None, None, "CONNECT"),),
            {},
            f"Service {name}",
            (f"{name} has no ready endpoints: the connection is refused",),
        )
    if proxy.sidecar or proxy.gateway:
        drs = destination_rules(world, service.fqdn, proxy.namespace)
        _check_tls(proxy, tls_mode(drs[0] if drs else None, None), pods, name)
    versions = ", ".join(f"{p.name} ({p.version})" for p in pods)
    note = f"{why}: {name} is balanced per pod over all {len(pods)} endpoints [{versions}]"
    return Routed(
        tuple(spread(pods, Fraction(1), headers=dict(call.headers))),
        {},
        f"Service {name} (no VirtualService)",
        (note,),
    )


def resolve_destination(
    world: World, proxy: Proxy, dest: Mapping[str, Any], vs_ns: str, where: str
) -> tuple[list[Pod], str | None, str]:
    """Pods a destination reaches, or a failure flag ("NC" / "UH"), and a description."""
    host = str(dest.get("host"))
    fqdn = resolve_host(host, vs_ns)
    service = world.services.get(fqdn)
    subset_name = dest.get("subset")
    label = f"{host}" + (f" subset {subset_name}" if subset_name else "")
    if service is None:
        return [], "NC", f"{label}: host {fqdn} is not a known Service"
    port = as_map(dest.get("port"), "port").get("number")
    if port is not None and service.ports and int(port) not in service.ports:
        raise OracleError(f"{where}: destination port {port} is not a port of Service {fqdn}")
    endpoints = world.endpoints(service)
    if subset_name is None:
        drs = destination_rules(world, fqdn, proxy.namespace)
        _check_tls(proxy, tls_mode(drs[0] if drs else None, None), endpoints, where)
        return endpoints, None if endpoints else "UH", label
    found = find_subset(world, fqdn, str(subset_name), proxy.namespace)
    if found is None:
        return [], "NC", f"{label}: no DestinationRule defines subset {subset_name}"
    subset, dr = found
    pods = [p for p in endpoints if labels_select(subset.labels, p.labels)]
    _check_tls(proxy, tls_mode(dr, subset), pods, where)
    if not pods:
        return [], "UH", f"{label}: subset labels {fmt_labels(subset.labels)} select no ready pods"
    return pods, None, label


def route_with_vs(world: World, vs: VirtualService, proxy: Proxy, call: Call) -> Routed | None:
    """Route by one VS; None when the VS yields no rules for this proxy (default routing then applies)."""
    where = vs.meta.ref
    rules = applicable_rules(vs, proxy)
    if not rules:
        return None
    hit = first_match(rules, call, where)
    notes: list[str] = []
    if hit is None:
        notes.append(
            f"{where}: no rule matches {call.path} (end-user={call.headers.get('end-user')}): 404 NR"
        )
        return Routed((Branch(Fraction(1), None, 404, "NR"),), {}, where, tuple(notes))
    idx, rule = hit
    timeout = parse_duration(rule["timeout"], f"{where} timeout") if rule.get("timeout") else None
    headers = dict(call.headers)
    _header_ops(rule.get("headers"), headers, where)
    branches: list[Branch] = []
    mirrors: dict[str, Fraction] = {}
    dests = [as_map(d, "route") for d in as_list(rule.get("route"), "route")]
    if dests:
        weighted = [(d, Fraction(1)) for d in dests] if len(dests) == 1 else []
        if len(dests) > 1:
            total = sum(int(d.get("weight", 0) or 0) for d in dests)
            weighted = [
                (d, Fraction(int(d.get("weight", 0) or 0), total))
                for d in dests
                if int(d.get("weight", 0) or 0) > 0
            ]
        shares = ", ".join(
            f"{_dest_label(as_map(d.get('destination'), 'destination'))} {float(w):.4g}" for d, w in weighted
        )
        notes.append(f"{where}: rule {idx + 1} matches; destinations by weight/sum: {shares}")
    fault_branches = _fault_branches(rule, f"{where} http[{idx}]")
    if rule.get("fault"):
        desc = ", ".join(
            f"{float(p) * 100:g}%: delay {float(d):g}s" + (f" then abort {st}" if st else "")
            if d
            else f"{float(p) * 100:g}%: " + (f"abort {st}" if st else "no fault")
            for p, d, st in fault_branches
        )
        notes.append(f"{where}: rule {idx + 1} injects faults ({desc}); a missing percentage means 0%")
    forwarded = Fraction(0)
    for p_fault, delay, abort in fault_branches:
        if abort is not None:
            branches.append(Branch(p_fault, None, abort, "FI", delay=delay, headers=headers))
            continue
        forwarded += p_fault
        if "directResponse" in rule:
            status = int(as_map(rule["directResponse"], "directResponse").get("status", 200))
            branches.append(Branch(p_fault, None, status, "DR", delay=delay, headers=headers))
            continue
        for d, w in weighted:
            dest = as_map(d.get("destination"), "destination")
            pods, flag, label = resolve_destination(world, proxy, dest, vs.meta.namespace, where)
            dheaders = dict(headers)
            _header_ops(d.get("headers"), dheaders, where)
            if flag:
                branches.append(Branch(p_fault * w, None, 503, flag, delay=delay, headers=dheaders))
                notes.append(f"{where}: {label}: 503 {flag}")
            else:
                branches.extend(spread(pods, p_fault * w, delay=delay, timeout=timeout, headers=dheaders))
    # Mirrors are sent by the router, so only for calls that reach an upstream pod (not FI / NC / UH).
    reach = sum((b.p for b in branches if b.pod is not None), Fraction(0))
    for mdest, pct in _mirror_policies(rule, f"{where} http[{idx}]"):
        pods, flag, label = resolve_destination(world, proxy, mdest, vs.meta.namespace, f"{where} mirror")
        if flag or pct == 0:
            notes.append(
                f"{where}: mirror to {label}: no copy reaches a pod"
                + (f" ({flag})" if flag else " (mirrorPercentage 0)")
            )
            continue
        for pod in pods:
            mirrors[pod.workload] = mirrors.get(pod.workload, Fraction(0)) + reach * pct / len(pods)
        notes.append(f"{where}: mirror {float(pct) * 100:g}% of routed requests to {label} (fire and forget)")
    return Routed(tuple(branches), mirrors, where, tuple(notes))


def route_call(world: World, proxy: Proxy, service_fqdn: str, call: Call) -> Routed:
    """A call from a workload to a Service, through its sidecar when it has one."""
    service = world.services.get(service_fqdn)
    if service is None:
        return Routed(
            (Branch(Fraction(1), None, None, "CONNECT"),),
            {},
            service_fqdn,
            (f"no Service {service_fqdn}: the name does not resolve",),
        )
    if not proxy.sidecar:
        return default_route(
            world, service, proxy, call, "caller has no sidecar, so kube-proxy ignores every VirtualService"
        )
    vss = mesh_virtual_services(world, service_fqdn, proxy.namespace)
    for vs in vss[:1]:
        routed = route_with_vs(world, vs, proxy, call)
        if routed is not None:
            extra: tuple[str, ...] = ()
            if len(vss) > 1:
                others = ", ".join(v.meta.ref for v in vss[1:])
                extra = (
                    f"{len(vss)} mesh VirtualServices claim {service_fqdn}; the oldest, {vs.meta.ref}, wins "
                    f"over {others}",
                )
            return Routed(routed.branches, routed.mirrors, routed.source, extra + routed.notes)
        return default_route(world, service, proxy, call, f"{vs.meta.ref} has no rule for this proxy")
    return default_route(world, service, proxy, call, "no VirtualService")


# ----------------------------------------------------------------------------------------------------
# the ingress gateway


def gateway_applies(world: World, gw: Gateway) -> bool:
    return labels_select(gw.selector, world.ingress_labels)


def server_binds_port(server: Server, port: int) -> bool:
    return server.protocol in ("HTTP", "HTTP2") and server.number in INGRESS_PORTS.get(port, (port,))


def _server_host_ns(server_host: str, gw_ns: str) -> tuple[str, str]:
    ns, _, host = server_host.rpartition("/")
    return ("*" if not ns else gw_ns if ns == "." else ns), host


def vs_hosts_in_server(vs: VirtualService, server: Server, gw_ns: str) -> list[str]:
    """Virtual-host domains a gateway VS gets on a server: VS hosts intersected with server hosts."""
    out = []
    for h in vs.fqdn_hosts:
        for sh in server.hosts:
            ns, shost = _server_host_ns(sh, gw_ns)
            if ns not in ("*", vs.meta.namespace):
                continue
            if host_matches(shost, h):
                out.append(h)
            elif h == "*" or (h.startswith("*.") and host_matches(h, shost)):
                out.append(shost)
    return out


def request_host_matches(domain: str, host: str | None) -> bool:
    if host is None:
        return domain == "*"
    return host_matches(domain, host.split(":")[0])


def gateway_virtual_services(
    world: World, port: int, host: str | None
) -> tuple[list[tuple[VirtualService, Gateway, Server]], list[str]]:
    """Gateway-bound VSs that serve a request on the ingress port with this Host, oldest first."""
    notes: list[str] = []
    bound: list[tuple[VirtualService, Gateway, Server]] = []
    for vs in sorted(world.virtual_services, key=lambda v: v.meta.age_key()):
        for ref in vs.gateways:
            if ref == "mesh":
                continue
            gw = world.gateways.get(ref)
            if gw is None:
                notes.append(f"{vs.meta.ref} names gateway {ref}, which does not exist")
                continue
            if not gateway_applies(world, gw):
                notes.append(
                    f"Gateway {ref} selector {fmt_labels(gw.selector)} matches no ingress gateway pods"
                )
                continue
            for server in gw.servers:
                if not server_binds_port(server, port):
                    continue
                domains = vs_hosts_in_server(vs, server, gw.meta.namespace)
                if any(request_host_matches(d, host) for d in domains):
                    bound.append((vs, gw, server))
                    break
            else:
                notes.append(
                    f"{vs.meta.ref} is bound to {ref} but no HTTP server on port {port} takes Host "
                    f"{host or '<an address>'} for hosts {list(vs.hosts)}"
                )
    return bound, notes


def _dest_label(dest: Mapping[str, Any]) -> str:
    return str(dest.get("subset") or dest.get("host"))
