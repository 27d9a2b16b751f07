"""Compiled mesh configuration: the values routing decisions are made from.

Pure: frozen dataclasses built once per `Mesh.update()` by `_compile`, read on every request by `_routing`.
Nothing here parses YAML or compiles a regex at request time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from harness.envoy import LocalReply
from harness.lab.topology import Endpoint

# Load-balancer kinds (DestinationRule loadBalancer.simple / consistentHash).
LEAST_REQUEST = "LEAST_REQUEST"
ROUND_ROBIN = "ROUND_ROBIN"
RANDOM = "RANDOM"
CONSISTENT_HASH = "CONSISTENT_HASH"

UNLIMITED = 2**32 - 1  # Istio's effective connection-pool default


@dataclass(frozen=True, slots=True)
class StringMatch:
    """One Istio StringMatch: exact / prefix / regex (full match) / present (`{}` or `regex: "*"`)."""

    kind: str  # "exact" | "prefix" | "regex" | "present"
    value: str = ""
    pattern: re.Pattern[str] | None = None

    def matches(self, text: str | None) -> bool:
        if text is None:
            return False
        kind = self.kind
        if kind == "exact":
            return text == self.value
        if kind == "prefix":
            return text.startswith(self.value)
        if kind == "regex":
            return self.pattern is not None and self.pattern.fullmatch(text) is not None
        return True  # present


@dataclass(frozen=True, slots=True)
class MatchBlock:
    """One HTTPMatchRequest (fields ANDed). Selectors (`source_*`, `gateways`) apply per proxy."""

    uri: StringMatch | None = None
    ignore_uri_case: bool = False
    scheme: StringMatch | None = None
    method: StringMatch | None = None
    authority: StringMatch | None = None
    headers: tuple[tuple[str, StringMatch], ...] = ()
    without_headers: tuple[tuple[str, StringMatch], ...] = ()
    query_params: tuple[tuple[str, StringMatch], ...] = ()
    port: int | None = None
    source_labels: tuple[tuple[str, str], ...] = ()
    source_namespace: str | None = None
    gateways: tuple[str, ...] = ()  # resolved "ns/name" or "mesh"
    name: str = ""


@dataclass(frozen=True, slots=True)
class HeaderOps:
    """headers.request|response: set, add, remove (keys lower-cased)."""

    set: tuple[tuple[str, str], ...] = ()
    add: tuple[tuple[str, str], ...] = ()
    remove: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.set or self.add or self.remove)


NO_HEADER_OPS = HeaderOps()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Envoy retry policy as Istio builds it (route/retry/retry.go)."""

    num_retries: int
    per_try_timeout_s: float | None = None
    on_connect: bool = True  # connect-failure, refused-stream, unavailable, cancelled, reset
    on_5xx: bool = False  # any 5xx and per-try timeouts
    on_gateway_error: bool = False  # 502/503/504 and per-try timeouts
    status_codes: frozenset[int] = frozenset()  # retriable-status-codes

    def retries_status(self, status: int) -> bool:
        return (
            status in self.status_codes
            or (self.on_5xx and status >= 500)
            or (self.on_gateway_error and status in (502, 503, 504))
        )

    @property
    def retries_timeout(self) -> bool:
        return self.on_5xx or self.on_gateway_error


@dataclass(frozen=True, slots=True)
class DestSpec:
    """A VS destination before per-proxy cluster resolution."""

    host: str  # FQDN (or whatever the VS said, when it has dots)
    subset: str = ""
    port: int | None = None
    weight: int = 0
    request_headers: HeaderOps = NO_HEADER_OPS
    response_headers: HeaderOps = NO_HEADER_OPS


@dataclass(frozen=True, slots=True)
class Fault:
    delay_s: float = 0.0
    delay_pct: float = 0.0
    abort_status: int = 0
    abort_pct: float = 0.0


@dataclass(frozen=True, slots=True)
class Redirect:
    uri: str | None = None
    authority: str | None = None
    scheme: str | None = None
    port: int | None = None
    code: int = 301


@dataclass(frozen=True, slots=True)
class Rewrite:
    uri: str | None = None
    authority: str | None = None
    regex: re.Pattern[str] | None = None
    regex_replacement: str = ""


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One VS `http[]` entry, compiled but not yet specialised for a proxy."""

    name: str
    vs: str  # "ns/name" of the VirtualService
    blocks: tuple[MatchBlock, ...]  # () = catch-all
    destinations: tuple[DestSpec, ...] = ()
    redirect: Redirect | None = None
    direct_status: int | None = None
    direct_body: bytes = b""
    rewrite: Rewrite | None = None
    fault: Fault | None = None
    mirrors: tuple[tuple[DestSpec, float], ...] = ()  # (destination, percent 0-100)
    timeout_s: float | None = None
    retry: RetryPolicy | None = None  # None = the mesh default
    request_headers: HeaderOps = NO_HEADER_OPS
    response_headers: HeaderOps = NO_HEADER_OPS


@dataclass(frozen=True, slots=True)
class CompiledVS:
    name: str
    namespace: str
    hosts: tuple[str, ...]  # FQDN-resolved
    gateways: frozenset[str]  # "mesh" and/or "ns/name"
    rules: tuple[RuleSpec, ...]
    order: tuple[str, str, str, int]  # (creationTimestamp, namespace, name, input index): oldest first


@dataclass(frozen=True, slots=True)
class OutlierPolicy:
    consecutive_5xx: int = 5
    consecutive_gateway: int = 0
    base_ejection_s: float = 30.0
    max_ejection_pct: float = 10.0


@dataclass(frozen=True, slots=True)
class TrafficPolicy:
    lb: str = LEAST_REQUEST
    hash_header: str | None = None
    hash_query: str | None = None
    hash_cookie: str | None = None
    hash_source: bool = False
    max_in_flight: int = UNLIMITED  # min(maxConnections + http1MaxPendingRequests, http2MaxRequests)
    outlier: OutlierPolicy | None = None


DEFAULT_POLICY = TrafficPolicy()


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    name: str
    namespace: str
    fqdn: str
    ports: tuple[int, ...]
    selector: Mapping[str, str]
    endpoints: tuple[Endpoint, ...]


@dataclass(frozen=True, slots=True)
class ClusterRef:
    """Envoy cluster `outbound|port|subset|fqdn` as one proxy sees it; `missing` = no cluster (503 NC)."""

    name: str
    fqdn: str
    port: int
    subset: str
    service: ServiceInfo | None
    endpoints: tuple[Endpoint, ...]
    policy: TrafficPolicy
    missing: bool = False


@dataclass(frozen=True, slots=True)
class Target:
    cluster: ClusterRef
    weight: int
    request_headers: HeaderOps = NO_HEADER_OPS
    response_headers: HeaderOps = NO_HEADER_OPS


@dataclass(frozen=True, slots=True)
class Route:
    """A rule specialised for one proxy: selectors applied, clusters resolved, weight-0 targets dropped."""

    spec: RuleSpec
    blocks: tuple[MatchBlock, ...]  # () = catch-all
    targets: tuple[Target, ...]
    cumulative: tuple[int, ...]  # running weight sums for the weighted pick
    mirrors: tuple[tuple[ClusterRef, float], ...]
    retry: RetryPolicy
    name: str = ""


@dataclass(frozen=True, slots=True)
class RouteTable:
    """What a proxy holds for one virtual host: ordered routes (first match wins), or the default route."""

    routes: tuple[Route, ...]
    vs: str | None  # "ns/name" of the VS in effect, None for the default route
    service: ServiceInfo | None = None


@dataclass(frozen=True, slots=True)
class GatewayServer:
    port: int
    protocol: str
    hosts: tuple[tuple[str, str], ...]  # (namespace part or "*", dns pattern)


@dataclass(frozen=True, slots=True)
class GatewayInfo:
    key: str  # "ns/name"
    namespace: str
    selector: Mapping[str, str]
    servers: tuple[GatewayServer, ...]


@dataclass(frozen=True, slots=True)
class Decision:
    """What the proxy does with one request: a local reply, a redirect/direct response, or a forward."""

    kind: str  # "local" | "direct" | "forward"
    reply: LocalReply | None = None
    status: int = 0
    body: bytes = b""
    location: str | None = None
    route: Route | None = None
    target: Target | None = None
    path: str = "/"
    authority: str = ""
    delay_s: float = 0.0
    abort_status: int = 0
    mirrors: tuple[ClusterRef, ...] = ()
    flags: tuple[str, ...] = field(default=())
