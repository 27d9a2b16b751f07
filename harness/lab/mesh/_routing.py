"""Per-request routing decisions: match, weighted pick, faults, mirrors, rewrite/redirect, endpoint choice.

Pure functions of (compiled route table, request, rng[, balancer state]) -> decision. The only mutable input
is `BalancerState` (per proxy and cluster: in-flight counts, round-robin cursor, outlier ejections), which the
data plane owns and passes in, the way Envoy's load balancer reads its host stats.
"""

from __future__ import annotations

import bisect
import random
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

from harness.envoy import NO_CLUSTER, NO_ROUTE
from harness.lab.topology import Endpoint

from ._model import (
    CONSISTENT_HASH,
    LEAST_REQUEST,
    ROUND_ROBIN,
    ClusterRef,
    Decision,
    MatchBlock,
    OutlierPolicy,
    Route,
    RouteTable,
    TrafficPolicy,
)


@dataclass(slots=True)
class RequestView:
    """The parts of a request that routing reads. `headers` keys are lower-case."""

    method: str
    path: str  # path and query
    headers: Mapping[str, str]
    authority: str  # Host/:authority as sent (may include ":port")
    scheme: str = "http"
    _query: dict[str, str] | None = field(default=None)

    @property
    def path_only(self) -> str:
        i = self.path.find("?")
        return self.path if i < 0 else self.path[:i]

    def query_param(self, name: str) -> str | None:
        if self._query is None:
            q: dict[str, str] = {}
            i = self.path.find("?")
            if i >= 0:
                for part in self.path[i + 1 :].split("&"):
                    k, _, v = part.partition("=")
                    q.setdefault(unquote_plus(k), unquote_plus(v))
            self._query = q
        return self._query.get(name)


def split_authority(authority: str, default_port: int = 80) -> tuple[str, int]:
    """("reviews", 9080) from "reviews:9080"; port defaults to `default_port`."""
    host, sep, port = authority.rpartition(":")
    if sep and port.isdigit() and "]" not in port:
        return host.lower(), int(port)
    return authority.lower(), default_port


def block_matches(block: MatchBlock, req: RequestView) -> bool:
    """All runtime conditions of one match block (AND)."""
    if block.uri is not None:
        path = req.path_only
        if block.ignore_uri_case and block.uri.kind != "regex":
            path = path.lower()
        if not block.uri.matches(path):
            return False
    if block.method is not None and not block.method.matches(req.method):
        return False
    if block.authority is not None and not block.authority.matches(req.authority):
        return False
    if block.scheme is not None and not block.scheme.matches(req.scheme):
        return False
    headers = req.headers
    for name, sm in block.headers:
        if not sm.matches(headers.get(name)):
            return False
    for name, sm in block.without_headers:
        value = headers.get(name)
        if sm.kind == "present":
            if value is not None:
                return False
        elif sm.matches("" if value is None else value):  # a missing header counts as empty
            return False
    for name, sm in block.query_params:  # noqa: SIM110 - early exit keeps the hot path flat
        if not sm.matches(req.query_param(name)):
            return False
    return True


def _rewrite_path(route: Route, block: MatchBlock | None, path: str) -> str:
    rw = route.spec.rewrite
    if rw is None:
        return path
    path_only, sep, query = path.partition("?")
    if rw.regex is not None:
        path_only = rw.regex.sub(rw.regex_replacement, path_only)
    elif rw.uri is not None:
        uri = block.uri if block is not None else None
        if uri is None:
            path_only = rw.uri + path_only[1:]  # the route's implicit prefix "/" is replaced
        elif uri.kind == "prefix":
            path_only = rw.uri + path_only[len(uri.value) :]
        else:
            path_only = rw.uri  # exact / regex: the whole path
    return path_only + sep + query


def _redirect_location(route: Route, req: RequestView) -> str:
    rd = route.spec.redirect
    assert rd is not None
    authority = rd.authority or req.authority
    if rd.port is not None:
        host, _ = split_authority(authority)
        authority = f"{host}:{rd.port}"
    path = req.path
    if rd.uri is not None:
        _, sep, query = req.path.partition("?")
        path = rd.uri if "?" in rd.uri else rd.uri + sep + query
    return f"{rd.scheme or req.scheme}://{authority}{path}"


def decide(table: RouteTable | None, req: RequestView, rng: random.Random) -> Decision:
    """Route one request: first matching rule wins; NR when a virtual host exists but nothing matches.

    Draws from `rng` only for what the rule configures: the weighted pick (several targets), then the
    delay and abort percentages, then each partial mirror.
    """
    if table is None:
        return Decision("local", reply=NO_ROUTE)
    matched: Route | None = None
    block: MatchBlock | None = None
    for route in table.routes:
        if not route.blocks:
            matched = route
            break
        for b in route.blocks:
            if block_matches(b, req):
                matched, block = route, b
                break
        if matched is not None:
            break
    if matched is None:
        return Decision("local", reply=NO_ROUTE)
    spec = matched.spec
    if spec.direct_status is not None:
        return Decision("direct", status=spec.direct_status, body=spec.direct_body, route=matched)
    if spec.redirect is not None:
        return Decision(
            "direct", status=spec.redirect.code, location=_redirect_location(matched, req), route=matched
        )
    targets = matched.targets
    if not targets:
        return Decision("local", reply=NO_CLUSTER, route=matched)
    if len(targets) == 1:
        target = targets[0]
    else:
        cumulative = matched.cumulative
        total = cumulative[-1]
        if total <= 0:
            return Decision("local", reply=NO_CLUSTER, route=matched)
        target = targets[bisect.bisect_right(cumulative, rng.random() * total)]
    delay_s = 0.0
    abort = 0
    fault = spec.fault
    if fault is not None:
        if fault.delay_pct > 0 and rng.random() * 100.0 < fault.delay_pct:
            delay_s = fault.delay_s
        if fault.abort_pct > 0 and rng.random() * 100.0 < fault.abort_pct:
            abort = fault.abort_status
    mirrors: tuple[ClusterRef, ...] = ()
    if matched.mirrors:
        mirrors = tuple(
            ref for ref, pct in matched.mirrors if pct >= 100.0 or (pct > 0 and rng.random() * 100.0 < pct)
        )
    authority = req.authority
    if spec.rewrite is not None and spec.rewrite.authority:
        authority = spec.rewrite.authority
    return Decision(
        "forward",
        route=matched,
        target=target,
        path=_rewrite_path(matched, block, req.path),
        authority=authority,
        delay_s=delay_s,
        abort_status=abort,
        mirrors=mirrors,
    )


# ---------------------------------------------------------------------------------------------- balancing


@dataclass(slots=True)
class BalancerState:
    """One proxy's view of one cluster: active requests per host, RR cursor, outlier-detection bookkeeping."""

    in_flight: int = 0
    active: dict[str, int] = field(default_factory=dict)  # address -> active requests
    rr: int = 0
    consecutive_5xx: dict[str, int] = field(default_factory=dict)
    consecutive_gateway: dict[str, int] = field(default_factory=dict)
    ejected_until: dict[str, float] = field(default_factory=dict)
    ejections: dict[str, int] = field(default_factory=dict)


def healthy_endpoints(endpoints: Sequence[Endpoint], state: BalancerState, now: float) -> Sequence[Endpoint]:
    ejected = state.ejected_until
    if not ejected:
        return endpoints
    return [e for e in endpoints if ejected.get(e.address, 0.0) <= now]


def pick_endpoint(
    endpoints: Sequence[Endpoint],
    state: BalancerState,
    policy: TrafficPolicy,
    rng: random.Random,
    *,
    now: float,
    exclude: Sequence[str] = (),
    hash_key: str | None = None,
) -> Endpoint | None:
    """Choose a host: LEAST_REQUEST (power of two choices), ROUND_ROBIN, RANDOM or consistent hash.

    Ejected hosts are skipped (None when all are ejected or there are none: 503 UH). `exclude` is Envoy's
    previous_hosts retry predicate: other hosts are preferred, but a retry may reuse one if no other exists.
    """
    hosts = healthy_endpoints(endpoints, state, now)
    if not hosts:
        return None
    if exclude:
        others = [e for e in hosts if e.address not in exclude]
        if others:
            hosts = others
    n = len(hosts)
    if n == 1:
        return hosts[0]
    lb = policy.lb
    if lb == LEAST_REQUEST:
        a = hosts[rng.randrange(n)]
        b = hosts[rng.randrange(n)]
        active = state.active
        return b if active.get(b.address, 0) < active.get(a.address, 0) else a
    if lb == ROUND_ROBIN:
        e = hosts[state.rr % n]
        state.rr += 1
        return e
    if lb == CONSISTENT_HASH and hash_key is not None:
        return hosts[zlib.crc32(hash_key.encode()) % n]
    return hosts[rng.randrange(n)]


def record_outcome(
    state: BalancerState,
    outlier: OutlierPolicy | None,
    endpoint: Endpoint,
    status: int,
    *,
    now: float,
    total_hosts: int,
) -> None:
    """Outlier detection: consecutive 5xx (status 0 = connect failure) ejects a host for base x ejections."""
    if outlier is None:
        return
    addr = endpoint.address
    is_5xx = status == 0 or status >= 500
    is_gw = status in (0, 502, 503, 504)
    c5 = state.consecutive_5xx[addr] = state.consecutive_5xx.get(addr, 0) + 1 if is_5xx else 0
    cg = state.consecutive_gateway[addr] = state.consecutive_gateway.get(addr, 0) + 1 if is_gw else 0
    trip = (outlier.consecutive_5xx > 0 and c5 >= outlier.consecutive_5xx) or (
        outlier.consecutive_gateway > 0 and cg >= outlier.consecutive_gateway
    )
    if not trip:
        return
    ejected_now = sum(1 for t in state.ejected_until.values() if t > now)
    if total_hosts and ejected_now * 100.0 / total_hosts >= outlier.max_ejection_pct:
        return  # maxEjectionPercent reached
    count = state.ejections.get(addr, 0) + 1
    state.ejections[addr] = count
    state.ejected_until[addr] = now + outlier.base_ejection_s * count
    state.consecutive_5xx[addr] = 0
    state.consecutive_gateway[addr] = 0
