"""Kubernetes/Istio objects + running endpoints -> a routing snapshot (Istio's pilot, in miniature).

Pure: no I/O, no clock, no randomness. `compile_snapshot` runs once per `Mesh.update()`; the per-proxy views
(`Snapshot.mesh_table`, `Snapshot.gateway_table`) are built lazily on a proxy's first request and cached in
the snapshot, so a config change simply replaces the snapshot. Semantics: istio-semantics.md A1-A3.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from typing import Any

from harness.lab.topology import Endpoint

from ._model import (
    CONSISTENT_HASH,
    DEFAULT_POLICY,
    LEAST_REQUEST,
    NO_HEADER_OPS,
    RANDOM,
    ROUND_ROBIN,
    UNLIMITED,
    ClusterRef,
    CompiledVS,
    DestSpec,
    Fault,
    GatewayInfo,
    GatewayServer,
    HeaderOps,
    MatchBlock,
    OutlierPolicy,
    Redirect,
    RetryPolicy,
    Rewrite,
    Route,
    RouteTable,
    RuleSpec,
    ServiceInfo,
    StringMatch,
    Target,
    TrafficPolicy,
)
from ._options import MeshOptions, parse_duration

ISTIO_GROUP = "networking.istio.io"
MESH = "mesh"
GATEWAY_PORTS = frozenset(
    {80, 8080}
)  # istio-ingressgateway Service port 80 -> targetPort 8080 (resolvePorts)
_LB_SIMPLE = {
    "LEAST_REQUEST": LEAST_REQUEST,
    "LEAST_CONN": LEAST_REQUEST,  # deprecated alias
    "UNSPECIFIED": LEAST_REQUEST,
    "ROUND_ROBIN": ROUND_ROBIN,
    "RANDOM": RANDOM,
    "PASSTHROUGH": RANDOM,  # no original-destination LB in the lab
}


def fqdn_of(host: str, namespace: str, domain: str) -> str:
    """Resolve VS hosts, destinations and DR hosts as Istio does: short names in the resource's namespace."""
    if "." in host or "*" in host:
        return host
    return f"{host}.{namespace}.svc.{domain}"


def host_matches(pattern: str, host: str) -> bool:
    """DNS pattern match: exact, `*`, or `*.suffix` (suffix match)."""
    if pattern == "*" or pattern == host:
        return True
    return pattern.startswith("*") and host.endswith(pattern[1:])


def _order_key(obj: Mapping[str, Any], index: int) -> tuple[str, str, str, int]:
    meta = obj.get("metadata") or {}
    return (
        str(meta.get("creationTimestamp") or ""),
        str(meta.get("namespace") or "default"),
        str(meta.get("name") or ""),
        index,
    )


# ---------------------------------------------------------------------------------------------- string matche


def compile_string_match(raw: Any, *, lower: bool = False) -> StringMatch:
    if not isinstance(raw, Mapping) or not raw:
        return StringMatch("present")
    if "exact" in raw:
        value = str(raw["exact"])
        return StringMatch("exact", value.lower() if lower else value)
    if "prefix" in raw:
        value = str(raw["prefix"])
        return StringMatch("prefix", value.lower() if lower else value)
    if "regex" in raw:
        value = str(raw["regex"])
        if value == "*":
            return StringMatch("present")
        return StringMatch("regex", value, re.compile(value))
    return StringMatch("present")


def _header_matches(raw: Any) -> tuple[tuple[str, StringMatch], ...]:
    if not isinstance(raw, Mapping):
        return ()
    out = []
    for name, sm in raw.items():
        key = str(name).lower()
        if key in ("uri", "scheme", "method", "authority", ":authority", ":method", ":path", ":scheme"):
            continue  # ignored by pilot in headers (TranslateRouteMatch)
        out.append((key, compile_string_match(sm)))
    return tuple(out)


def _resolve_gateway(name: str, namespace: str) -> str:
    if name == MESH:
        return MESH
    return name if "/" in name else f"{namespace}/{name}"


def compile_match(raw: Mapping[str, Any], namespace: str) -> MatchBlock:
    ignore_case = bool(raw.get("ignoreUriCase", False))
    uri = raw.get("uri")
    query = raw.get("queryParams")
    return MatchBlock(
        uri=compile_string_match(uri, lower=ignore_case) if uri is not None else None,
        ignore_uri_case=ignore_case,
        scheme=compile_string_match(raw["scheme"]) if raw.get("scheme") is not None else None,
        method=compile_string_match(raw["method"]) if raw.get("method") is not None else None,
        authority=compile_string_match(raw["authority"]) if raw.get("authority") is not None else None,
        headers=_header_matches(raw.get("headers")),
        without_headers=_header_matches(raw.get("withoutHeaders")),
        query_params=tuple((str(k), compile_string_match(v)) for k, v in query.items())
        if isinstance(query, Mapping)
        else (),
        port=int(raw["port"]) if raw.get("port") is not None else None,
        source_labels=tuple(sorted((str(k), str(v)) for k, v in (raw.get("sourceLabels") or {}).items())),
        source_namespace=str(raw["sourceNamespace"]) if raw.get("sourceNamespace") else None,
        gateways=tuple(_resolve_gateway(str(g), namespace) for g in raw.get("gateways") or ()),
        name=str(raw.get("name") or ""),
    )


# ---------------------------------------------------------------------------------------------- VS rules


def _header_ops(raw: Any) -> tuple[HeaderOps, HeaderOps]:
    if not isinstance(raw, Mapping):
        return NO_HEADER_OPS, NO_HEADER_OPS

    def ops(part: Any) -> HeaderOps:
        if not isinstance(part, Mapping):
            return NO_HEADER_OPS
        return HeaderOps(
            set=tuple((str(k).lower(), str(v)) for k, v in (part.get("set") or {}).items()),
            add=tuple((str(k).lower(), str(v)) for k, v in (part.get("add") or {}).items()),
            remove=tuple(str(k).lower() for k in part.get("remove") or ()),
        )

    return ops(raw.get("request")), ops(raw.get("response"))


def _percent(raw: Mapping[str, Any], key: str = "percentage") -> float | None:
    pct = raw.get(key)
    if isinstance(pct, Mapping):
        return float(pct.get("value", 0.0) or 0.0)
    if isinstance(pct, int | float):
        return float(pct)
    return None


def _dest_spec(raw: Mapping[str, Any], namespace: str, domain: str, weight: int = 0) -> DestSpec:
    port = (raw.get("port") or {}).get("number")
    return DestSpec(
        host=fqdn_of(str(raw.get("host", "")), namespace, domain),
        subset=str(raw.get("subset") or ""),
        port=int(port) if port else None,
        weight=weight,
    )


def _fault(raw: Any) -> Fault | None:
    if not isinstance(raw, Mapping):
        return None
    delay = raw.get("delay") or {}
    abort = raw.get("abort") or {}
    delay_pct = _percent(delay)
    if delay_pct is None:  # missing percentage = 0%, falling back to the deprecated int `percent`
        delay_pct = float(delay.get("percent", 0) or 0)
    abort_pct = _percent(abort) or 0.0
    fixed = delay.get("fixedDelay")
    return Fault(
        delay_s=parse_duration(fixed) if fixed else 0.0,
        delay_pct=delay_pct if fixed else 0.0,
        abort_status=int(abort.get("httpStatus") or 0),
        abort_pct=abort_pct if abort.get("httpStatus") else 0.0,
    )


def _retry_on_tokens(text: str, base: RetryPolicy) -> RetryPolicy:
    tokens = {t.strip() for t in text.split(",") if t.strip()}
    codes = frozenset(int(t) for t in tokens if t.isdigit())
    on_5xx = "5xx" in tokens
    on_gw = "gateway-error" in tokens
    on_connect = bool(tokens & {"connect-failure", "refused-stream", "unavailable", "cancelled", "reset"})
    return RetryPolicy(
        num_retries=base.num_retries,
        per_try_timeout_s=base.per_try_timeout_s,
        on_connect=on_connect or on_5xx or on_gw,
        on_5xx=on_5xx,
        on_gateway_error=on_gw,
        status_codes=codes,
    )


def default_retry(options: MeshOptions) -> RetryPolicy:
    """The mesh default: 2 retries on connect failures (+ 503 in Istio <= 1.23), other hosts preferred."""
    return RetryPolicy(
        num_retries=2, on_connect=True, status_codes=frozenset({503}) if options.retry_503 else frozenset()
    )


def _retry(raw: Any, options: MeshOptions) -> RetryPolicy | None:
    if not isinstance(raw, Mapping):
        return None
    base = default_retry(options)
    attempts = int(raw.get("attempts", 2) or 0)
    per_try = raw.get("perTryTimeout")
    policy = RetryPolicy(
        num_retries=attempts,
        per_try_timeout_s=parse_duration(per_try) if per_try else None,
        on_connect=base.on_connect,
        status_codes=base.status_codes,
    )
    if raw.get("retryOn"):
        policy = _retry_on_tokens(str(raw["retryOn"]), policy)
    return policy


def compile_rule(
    raw: Mapping[str, Any], vs_key: str, namespace: str, index: int, options: MeshOptions
) -> RuleSpec:
    domain = options.cluster_domain
    dests = []
    for d in raw.get("route") or ():
        spec = _dest_spec(d.get("destination") or {}, namespace, domain, int(d.get("weight", 0) or 0))
        req_ops, resp_ops = _header_ops(d.get("headers"))
        dests.append(
            DestSpec(
                spec.host,
                spec.subset,
                spec.port,
                spec.weight,
                request_headers=req_ops,
                response_headers=resp_ops,
            )
        )
    mirrors: list[tuple[DestSpec, float]] = []
    if isinstance(raw.get("mirror"), Mapping):
        pct = _percent(raw, "mirrorPercentage")
        if pct is None:
            legacy = raw.get("mirrorPercent", raw.get("mirror_percent"))
            pct = 100.0 if legacy is None else float(legacy)  # absent = 100% (pilot MirrorPercent)
        mirrors.append((_dest_spec(raw["mirror"], namespace, domain), pct))
    for m in raw.get("mirrors") or ():
        pct = _percent(m)
        mirrors.append(
            (_dest_spec(m.get("destination") or {}, namespace, domain), 100.0 if pct is None else pct)
        )
    redirect = None
    if isinstance(raw.get("redirect"), Mapping):
        r = raw["redirect"]
        redirect = Redirect(
            uri=r.get("uri"),
            authority=r.get("authority"),
            scheme=r.get("scheme"),
            port=int(r["port"]) if r.get("port") else None,
            code=int(r.get("redirectCode") or 301),
        )
    direct_status = None
    direct_body = b""
    if isinstance(raw.get("directResponse"), Mapping):
        dr = raw["directResponse"]
        direct_status = int(dr.get("status") or 200)
        body = dr.get("body") or {}
        if "string" in body:
            direct_body = str(body["string"]).encode()
        elif "bytes" in body:
            direct_body = base64.b64decode(str(body["bytes"]))
    rewrite = None
    if isinstance(raw.get("rewrite"), Mapping):
        rw = raw["rewrite"]
        rx = rw.get("uriRegexRewrite") or {}
        rewrite = Rewrite(
            uri=rw.get("uri"),
            authority=rw.get("authority"),
            regex=re.compile(str(rx["match"])) if rx.get("match") else None,
            regex_replacement=re.sub(r"\\(\d)", r"\\\1", str(rx.get("rewrite", ""))),
        )
    timeout = raw.get("timeout")
    req_ops, resp_ops = _header_ops(raw.get("headers"))
    return RuleSpec(
        name=str(raw.get("name") or f"{vs_key}.{index}"),
        vs=vs_key,
        blocks=tuple(compile_match(m or {}, namespace) for m in raw.get("match") or ()),
        destinations=tuple(dests),
        redirect=redirect,
        direct_status=direct_status,
        direct_body=direct_body,
        rewrite=rewrite,
        fault=_fault(raw.get("fault")),
        mirrors=tuple(mirrors),
        timeout_s=parse_duration(timeout) if timeout else None,  # default: disabled
        retry=_retry(raw.get("retries"), options),
        request_headers=req_ops,
        response_headers=resp_ops,
    )


def compile_vs(obj: Mapping[str, Any], index: int, options: MeshOptions) -> CompiledVS:
    meta = obj.get("metadata") or {}
    ns = str(meta.get("namespace") or "default")
    name = str(meta.get("name") or "")
    spec = obj.get("spec") or {}
    key = f"{ns}/{name}"
    gateways = frozenset(_resolve_gateway(str(g), ns) for g in spec.get("gateways") or ()) or frozenset(
        {MESH}
    )
    return CompiledVS(
        name=name,
        namespace=ns,
        hosts=tuple(fqdn_of(str(h), ns, options.cluster_domain) for h in spec.get("hosts") or ()),
        gateways=gateways,
        rules=tuple(compile_rule(r, key, ns, i, options) for i, r in enumerate(spec.get("http") or ())),
        order=_order_key(obj, index),
    )


# ---------------------------------------------------------------------------------------------- DR policies


def compile_policy(raw: Mapping[str, Any] | None) -> TrafficPolicy:
    if not raw:
        return DEFAULT_POLICY
    lb = LEAST_REQUEST
    hash_header = hash_query = hash_cookie = None
    hash_source = False
    lb_raw = raw.get("loadBalancer") or {}
    if lb_raw.get("simple"):
        lb = _LB_SIMPLE.get(str(lb_raw["simple"]), LEAST_REQUEST)
    elif isinstance(lb_raw.get("consistentHash"), Mapping):
        ch = lb_raw["consistentHash"]
        lb = CONSISTENT_HASH
        hash_header = str(ch["httpHeaderName"]).lower() if ch.get("httpHeaderName") else None
        hash_query = str(ch["httpQueryParameterName"]) if ch.get("httpQueryParameterName") else None
        hash_cookie = str((ch.get("httpCookie") or {}).get("name")) if ch.get("httpCookie") else None
        hash_source = bool(ch.get("useSourceIp"))
    max_in_flight = UNLIMITED
    pool = raw.get("connectionPool") or {}
    if pool:
        tcp = pool.get("tcp") or {}
        http = pool.get("http") or {}
        conns = int(tcp.get("maxConnections") or UNLIMITED)
        pending = int(http.get("http1MaxPendingRequests") or UNLIMITED)
        requests = int(http.get("http2MaxRequests") or UNLIMITED)
        # HTTP/1.1: one request per connection, the rest queue as pending; beyond both Envoy overflows (UO).
        max_in_flight = min(conns + pending, requests, UNLIMITED)
    outlier = None
    od = raw.get("outlierDetection")
    if isinstance(od, Mapping):
        c5 = od.get("consecutive5xxErrors", od.get("consecutiveErrors", 5))
        base = od.get("baseEjectionTime")
        outlier = OutlierPolicy(
            consecutive_5xx=int(c5 or 0),
            consecutive_gateway=int(od.get("consecutiveGatewayErrors") or 0),
            base_ejection_s=parse_duration(base) if base else 30.0,
            max_ejection_pct=float(od.get("maxEjectionPercent", 10) or 0),
        )
    return TrafficPolicy(lb, hash_header, hash_query, hash_cookie, hash_source, max_in_flight, outlier)


_POLICY_FIELDS = ("loadBalancer", "connectionPool", "outlierDetection", "tls", "tunnel", "proxyProtocol")


def _overlay(base: Mapping[str, Any], top: Mapping[str, Any] | None, port: int) -> dict[str, Any]:
    """Istio MergeTrafficPolicy: each top-level field replaces the parent's wholesale, then port-level."""
    out = dict(base)
    if top:
        for key in _POLICY_FIELDS:
            if top.get(key) is not None:
                out[key] = top[key]
        for pls in top.get("portLevelSettings") or ():
            if int((pls.get("port") or {}).get("number") or 0) == port:
                for key in _POLICY_FIELDS:
                    if pls.get(key) is not None:
                        out[key] = pls[key]
    return out


class _MergedDR:
    """Several DRs for one host in one namespace: first subset definition and first trafficPolicy win."""

    __slots__ = ("subsets", "traffic_policy")

    def __init__(self, drs: Sequence[Mapping[str, Any]]) -> None:
        self.traffic_policy: Mapping[str, Any] | None = None
        self.subsets: dict[str, Mapping[str, Any]] = {}
        for dr in drs:
            spec = dr.get("spec") or {}
            if self.traffic_policy is None and spec.get("trafficPolicy"):
                self.traffic_policy = spec["trafficPolicy"]
            for sub in spec.get("subsets") or ():
                self.subsets.setdefault(str(sub.get("name")), sub)


# ---------------------------------------------------------------------------------------------- snapshot


def _labels_superset(labels: Mapping[str, str], selector: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


class Snapshot:
    """One compiled configuration. Immutable once built, except for the per-proxy caches it fills lazily."""

    def __init__(self, options: MeshOptions) -> None:
        self.options = options
        self.services: dict[str, ServiceInfo] = {}
        self.short: dict[tuple[str, str], ServiceInfo] = {}  # (namespace, name)
        self.dotted: dict[str, ServiceInfo] = {}  # name.ns, name.ns.svc, FQDN
        self.pods: dict[tuple[str, str], Endpoint] = {}  # (namespace, pod)
        self.pod_services: dict[tuple[str, str], tuple[ServiceInfo, ...]] = {}
        self.mesh_vs: dict[str, CompiledVS] = {}  # service FQDN -> the VS in effect (oldest wins)
        self.gateway_vs: tuple[CompiledVS, ...] = ()
        self.gateways: tuple[GatewayInfo, ...] = ()
        self.drs: dict[str, dict[str, _MergedDR]] = {}  # host FQDN -> namespace -> merged DR
        self.warnings: list[str] = []
        self._tables: dict[tuple[str, str, str, int], RouteTable | None] = {}
        self._clusters: dict[tuple[str, str, int, str], ClusterRef] = {}
        self._gw_tables: dict[tuple[str, str], Any] = {}

    # -- lookups ---------------------------------------------------------------------------------------------
    def resolve(self, host: str, namespace: str) -> ServiceInfo | None:
        """Service addressed by a Host/:authority name (port stripped) from a client in `namespace`."""
        if "." not in host:
            return self.short.get((namespace, host))
        return self.dotted.get(host)

    def cluster(
        self, client_ns: str, fqdn: str, port: int | None, subset: str, request_port: int
    ) -> ClusterRef:
        svc = self.services.get(fqdn)
        if port is None:
            if svc is None:
                port = request_port
            elif len(svc.ports) == 1 or request_port not in svc.ports:
                port = svc.ports[0] if svc.ports else request_port
            else:
                port = request_port
        key = (client_ns, fqdn, port, subset)
        ref = self._clusters.get(key)
        if ref is None:
            ref = self._build_cluster(client_ns, fqdn, port, subset, svc)
            self._clusters[key] = ref
        return ref

    def _dr(self, fqdn: str, client_ns: str, svc: ServiceInfo | None) -> _MergedDR | None:
        by_ns = self.drs.get(fqdn)
        if not by_ns:
            return None
        # DR lookup path: client namespace, service namespace, root namespace.
        for ns in (client_ns, svc.namespace if svc else None, self.options.gateway_namespace):
            if ns in by_ns:
                return by_ns[ns]
        return next(iter(by_ns.values()))

    def _build_cluster(
        self, client_ns: str, fqdn: str, port: int, subset: str, svc: ServiceInfo | None
    ) -> ClusterRef:
        name = f"outbound|{port}|{subset}|{fqdn}"
        if svc is None:
            return ClusterRef(name, fqdn, port, subset, None, (), DEFAULT_POLICY, missing=True)
        dr = self._dr(fqdn, client_ns, svc)
        top = _overlay({}, dr.traffic_policy if dr else None, port)
        if not subset:
            return ClusterRef(name, fqdn, port, "", svc, svc.endpoints, compile_policy(top))
        sub = dr.subsets.get(subset) if dr else None
        if sub is None:
            return ClusterRef(name, fqdn, port, subset, svc, (), DEFAULT_POLICY, missing=True)
        labels = sub.get("labels") or {}
        eps = tuple(e for e in svc.endpoints if _labels_superset(e.labels, labels))
        # Subset policy overrides top-level fields wholesale, only for this subset's cluster.
        policy = compile_policy(_overlay(top, sub.get("trafficPolicy"), port))
        return ClusterRef(name, fqdn, port, subset, svc, eps, policy)

    # -- per-proxy route tables ------------------------------------------------------------------------------
    def _specialise(
        self,
        rules: Sequence[RuleSpec],
        proxy: Endpoint,
        proxy_gateways: frozenset[str],
        vhost_port: int,
    ) -> tuple[Route, ...]:
        """Apply config-time selectors (sourceLabels, sourceNamespace, gateways, port); resolve clusters."""
        routes: list[Route] = []
        default_retry_policy = default_retry(self.options)
        for rule in rules:
            blocks = rule.blocks
            if blocks:
                kept = tuple(
                    b
                    for b in blocks
                    if all(proxy.labels.get(k) == v for k, v in b.source_labels)
                    and (b.source_namespace is None or b.source_namespace == proxy.namespace)
                    and (not b.gateways or bool(proxy_gateways.intersection(b.gateways)))
                    and (b.port is None or b.port == vhost_port)
                )
                if not kept:
                    continue  # the rule does not exist for this proxy
                # A block left with only selectors matches everything this proxy sends.
                blocks = () if any(_is_selector_only(b) for b in kept) else kept
            targets = []
            for d in rule.destinations:
                if len(rule.destinations) > 1 and d.weight == 0:
                    continue  # weight 0 is dropped when there are several destinations
                ref = self.cluster(proxy.namespace, d.host, d.port, d.subset, vhost_port)
                targets.append(_target(ref, d))
            cumulative = []
            total = 0
            for t in targets:
                total += t.weight if len(targets) > 1 else 1
                cumulative.append(total)
            mirrors = tuple(
                (self.cluster(proxy.namespace, m.host, m.port, m.subset, vhost_port), pct)
                for m, pct in rule.mirrors
            )
            routes.append(
                Route(
                    spec=rule,
                    blocks=blocks,
                    targets=tuple(targets),
                    cumulative=tuple(cumulative),
                    mirrors=mirrors,
                    retry=rule.retry or default_retry_policy,
                    name=rule.name,
                )
            )
            if not blocks:
                break  # pilot stops emitting routes after the first catch-all
        return tuple(routes)

    def default_table(self, proxy: Endpoint, svc: ServiceInfo, port: int) -> RouteTable:
        ref = self.cluster(proxy.namespace, svc.fqdn, port, "", port)
        target = _target(ref, DestSpec(svc.fqdn, weight=100))
        route = Route(
            spec=RuleSpec(name="default", vs="", blocks=()),
            blocks=(),
            targets=(target,),
            cumulative=(1,),
            mirrors=(),
            retry=default_retry(self.options),
            name="default",
        )
        return RouteTable((route,), None, svc)

    def mesh_table(self, proxy: Endpoint, svc: ServiceInfo, port: int) -> RouteTable:
        """The sidecar route table of `proxy` for `svc` on `port` (VS in effect, or the default route)."""
        key = (proxy.namespace, proxy.pod, svc.fqdn, port)
        table = self._tables.get(key)
        if table is None:
            vs = self.mesh_vs.get(svc.fqdn)
            routes = self._specialise(vs.rules, proxy, frozenset({MESH}), port) if vs else ()
            # A VS that yields no routes for this proxy is skipped: default routing applies.
            table = RouteTable(routes, f"{vs.namespace}/{vs.name}", svc) if routes and vs else None
            table = table or self.default_table(proxy, svc, port)
            self._tables[key] = table
        return table

    def gateway_table(self, proxy: Endpoint, host: str) -> RouteTable | None:
        """The gateway's routes for a request Host (port stripped); None = no virtual host (404 NR)."""
        key = (proxy.pod, host)
        if key in self._gw_tables:
            return self._gw_tables[key]
        vhosts = self._gateway_vhosts(proxy)
        table = None
        for pattern, servers, routes, vs_key in vhosts:
            if host_matches(pattern, host) and any(host_matches(s, host) for s in servers):
                table = RouteTable(routes, vs_key, None)
                break
        if len(self._gw_tables) > 4096:
            self._gw_tables.clear()
        self._gw_tables[key] = table
        return table

    def _gateway_vhosts(self, proxy: Endpoint) -> list[tuple[str, tuple[str, ...], tuple[Route, ...], str]]:
        key = (proxy.pod, "\0vhosts")
        cached = self._gw_tables.get(key)
        if cached is not None:
            return cached
        mine = [g for g in self.gateways if _labels_superset(proxy.labels, g.selector)]
        servers_by_gw: dict[str, list[tuple[str, str]]] = {}
        for g in mine:
            for s in g.servers:
                if s.port in GATEWAY_PORTS and s.protocol in ("HTTP", "HTTP2", "HTTPS", "HTTP_PROXY"):
                    servers_by_gw.setdefault(g.key, []).extend(s.hosts)
        # host pattern -> (server host patterns, [(vs, rules)])
        frags: dict[str, tuple[set[str], list[CompiledVS]]] = {}
        for vs in self.gateway_vs:
            for gw_key in vs.gateways & servers_by_gw.keys():
                gw_ns = gw_key.split("/", 1)[0]
                for vs_host in vs.hosts:
                    for ns_part, server_host in servers_by_gw[gw_key]:
                        if ns_part not in ("*", vs.namespace) and not (
                            ns_part == "." and vs.namespace == gw_ns
                        ):
                            continue
                        if host_matches(server_host, vs_host) or host_matches(vs_host, server_host):
                            entry = frags.setdefault(vs_host, (set(), []))
                            entry[0].add(server_host)
                            if vs not in entry[1]:
                                entry[1].append(vs)
        gw_keys = frozenset(servers_by_gw)
        out = []
        for pattern, (servers, vss) in frags.items():
            vss.sort(key=lambda v: v.order)
            specific: list[Route] = []
            catch_all: list[Route] = []
            for vs in vss:
                for route in self._specialise(vs.rules, proxy, gw_keys, 80):
                    (specific if route.blocks else catch_all).append(route)
            # Gateway-bound fragments merge; catch-alls move to the end (SortVHostRoutes).
            routes = tuple(specific + catch_all[:1]) if len(vss) > 1 else tuple(specific + catch_all)
            out.append((pattern, tuple(servers), routes, ",".join(f"{v.namespace}/{v.name}" for v in vss)))
        # Envoy vhost selection: exact domains, then longest wildcard suffix, then "*".
        out.sort(key=lambda e: (e[0] == "*", e[0].startswith("*"), -len(e[0])))
        self._gw_tables[key] = out
        return out


def _is_selector_only(block: MatchBlock) -> bool:
    return not (
        block.uri
        or block.scheme
        or block.method
        or block.authority
        or block.headers
        or block.without_headers
        or block.query_params
    )


def _target(ref: ClusterRef, d: DestSpec) -> Target:
    return Target(ref, d.weight, d.request_headers, d.response_headers)


def _service_info(obj: Mapping[str, Any], endpoints: Sequence[Endpoint], domain: str) -> ServiceInfo:
    meta = obj.get("metadata") or {}
    ns = str(meta.get("namespace") or "default")
    name = str(meta.get("name") or "")
    spec = obj.get("spec") or {}
    selector = {str(k): str(v) for k, v in (spec.get("selector") or {}).items()}
    ports = tuple(int(p.get("port")) for p in spec.get("ports") or () if p.get("port"))
    eps = (
        tuple(e for e in endpoints if e.ready and e.namespace == ns and _labels_superset(e.labels, selector))
        if selector
        else ()
    )
    return ServiceInfo(name, ns, f"{name}.{ns}.svc.{domain}", ports, selector, eps)


def _api_group(obj: Mapping[str, Any]) -> str:
    return str(obj.get("apiVersion") or "").split("/", 1)[0]


def compile_snapshot(
    objects: Sequence[Mapping[str, Any]], endpoints: Sequence[Endpoint], options: MeshOptions
) -> Snapshot:
    """Build the snapshot from the current objects and running endpoints (pilot's push, whole-world)."""
    snap = Snapshot(options)
    domain = options.cluster_domain
    for e in endpoints:
        snap.pods[(e.namespace, e.pod)] = e
    vss: list[CompiledVS] = []
    drs: list[tuple[tuple[str, str, str, int], str, str, Mapping[str, Any]]] = []
    gateways: list[GatewayInfo] = []
    pod_services: dict[tuple[str, str], list[ServiceInfo]] = {}
    for index, obj in enumerate(objects):
        kind = obj.get("kind")
        meta = obj.get("metadata") or {}
        ns = str(meta.get("namespace") or "default")
        try:
            if kind == "Service" and _api_group(obj) == "v1":
                svc = _service_info(obj, endpoints, domain)
                snap.services[svc.fqdn] = svc
                snap.short[(svc.namespace, svc.name)] = svc
                for form in (f"{svc.name}.{svc.namespace}", f"{svc.name}.{svc.namespace}.svc", svc.fqdn):
                    snap.dotted[form] = svc
                for e in svc.endpoints:
                    pod_services.setdefault((e.namespace, e.pod), []).append(svc)
            elif _api_group(obj) != ISTIO_GROUP:
                continue
            elif kind == "VirtualService":
                vss.append(compile_vs(obj, index, options))
            elif kind == "DestinationRule":
                host = fqdn_of(str((obj.get("spec") or {}).get("host", "")), ns, domain)
                drs.append((_order_key(obj, index), host, ns, obj))
            elif kind == "Gateway":
                gateways.append(_gateway_info(obj))
        except (ValueError, TypeError, AttributeError, KeyError, re.error) as exc:
            snap.warnings.append(f"IST0106 (SchemaValidationError) {kind} {ns}/{meta.get('name')}: {exc}")
    snap.pod_services = {k: tuple(v) for k, v in pod_services.items()}
    drs.sort(key=lambda t: t[0])
    grouped: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for _, host, ns, obj in drs:
        grouped.setdefault(host, {}).setdefault(ns, []).append(obj)
    snap.drs = {h: {ns: _MergedDR(objs) for ns, objs in by_ns.items()} for h, by_ns in grouped.items()}
    snap.gateways = tuple(gateways)
    vss.sort(key=lambda v: v.order)
    snap.gateway_vs = tuple(v for v in vss if v.gateways - {MESH})
    for vs in vss:
        if MESH not in vs.gateways:
            continue
        for svc in snap.services.values():
            if any(host_matches(h, svc.fqdn) for h in vs.hosts):
                winner = snap.mesh_vs.setdefault(svc.fqdn, vs)
                if winner is not vs:
                    snap.warnings.append(
                        f"IST0109 (ConflictingMeshGatewayVirtualServiceHosts) The VirtualServices "
                        f"{winner.namespace}/{winner.name},{vs.namespace}/{vs.name} associated with mesh "
                        "gateway "
                        f"define the same host {svc.fqdn} which can lead to undefined behavior."
                    )
    _analyze_references(snap, vss)
    return snap


def _gateway_info(obj: Mapping[str, Any]) -> GatewayInfo:
    meta = obj.get("metadata") or {}
    ns = str(meta.get("namespace") or "default")
    spec = obj.get("spec") or {}
    servers = []
    for s in spec.get("servers") or ():
        port = s.get("port") or {}
        hosts = []
        for h in s.get("hosts") or ():
            ns_part, _, dns = str(h).rpartition("/")
            hosts.append((ns_part or "*", dns))
        servers.append(
            GatewayServer(
                int(port.get("number") or 0), str(port.get("protocol") or "HTTP").upper(), tuple(hosts)
            )
        )
    selector = {str(k): str(v) for k, v in (spec.get("selector") or {}).items()}
    return GatewayInfo(f"{ns}/{meta.get('name')}", ns, selector, tuple(servers))


def _analyze_references(snap: Snapshot, vss: Sequence[CompiledVS]) -> None:
    """IST0101 (missing host / host+subset / gateway) and IST0173 (subset selects no pods)."""
    gw_keys = {g.key for g in snap.gateways}
    for vs in vss:
        where = f"VirtualService {vs.namespace}/{vs.name}"
        for gw in sorted(vs.gateways - {MESH} - gw_keys):
            snap.warnings.append(
                f'IST0101 (ReferencedResourceNotFound) {where}: Referenced gateway not found: "{gw}"'
            )
        for rule in vs.rules:
            refs = [(d, "host+subset") for d in rule.destinations] + [
                (m, "mirror+subset") for m, _ in rule.mirrors
            ]
            for d, what in refs:
                svc = snap.services.get(d.host)
                if svc is None:
                    snap.warnings.append(
                        f'IST0101 (ReferencedResourceNotFound) {where}: Referenced host not found: "{d.host}"'
                    )
                    continue
                if not d.subset:
                    continue
                dr = snap._dr(d.host, vs.namespace, svc)
                sub = dr.subsets.get(d.subset) if dr else None
                if sub is None:
                    snap.warnings.append(
                        f"IST0101 (ReferencedResourceNotFound) {where}: Referenced {what} in destinationrule "
                        f'not found: "{svc.name}+{d.subset}"'
                    )
                elif not any(_labels_superset(e.labels, sub.get("labels") or {}) for e in svc.endpoints):
                    snap.warnings.append(
                        f"IST0173 (DestinationRuleSubsetNotSelectPods) {where}: subset {d.subset} "
                        f"of {svc.fqdn} "
                        "selects no pods (may lead to 503 UH)"
                    )
