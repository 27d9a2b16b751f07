"""The async data plane: sidecar outbound/inbound, ingress gateway, retries, mirrors, telemetry, access logs.

Shell: this is the only module that awaits, sleeps, reads clocks or touches the transport. Every routing
choice is delegated to the pure functions in `_routing` over the snapshot compiled by `_compile`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from harness.envoy import (
    CONNECT_FAILURE,
    NO_CLUSTER,
    NO_HEALTHY_UPSTREAM,
    OVERFLOW,
    RETRIES_EXHAUSTED,
    UPSTREAM_TIMEOUT,
    LocalReply,
    fault_abort,
)
from harness.lab.http import Handler, HttpRequest, HttpResponse, Upstream, UpstreamError
from harness.lab.topology import Endpoint

from ._compile import Snapshot, compile_snapshot
from ._model import ClusterRef, Decision, HeaderOps, Route, RouteTable, ServiceInfo
from ._options import MeshOptions
from ._routing import BalancerState, RequestView, decide, pick_endpoint, record_outcome, split_authority
from ._telemetry import UNKNOWN, AccessLogEntry, Telemetry, peer_labels
from ._transport import Transport

PEER_HEADER = "x-envoy-peer-metadata-id"  # Istio's HTTP metadata exchange (stripped on inbound)
ACCESS_LOG_LINES = 10_000
_DETAILS = {
    "NR": "route_not_found",
    "NC": "cluster_not_found",
    "UH": "no_healthy_upstream",
    "UT": "upstream_response_timeout",
    "UO": "upstream_reset_before_response_started{overflow}",
    "UF": "upstream_reset_before_response_started{connection_failure}",
    "URX": "upstream_reset_before_response_started{connection_failure}",
    "FI": "fault_filter_abort",
}


def _local(reply: LocalReply) -> HttpResponse:
    return HttpResponse(reply.status, [("content-type", "text/plain")] if reply.body else [], reply.body)


def _split_url(url: str) -> tuple[str, str]:
    """("reviews:9080", "/reviews/0") from "http://reviews:9080/reviews/0"."""
    rest = url.split("://", 1)[1] if "://" in url else url
    slash = rest.find("/")
    if slash < 0:
        q = rest.find("?")
        return (rest, "/") if q < 0 else (rest[:q], "/" + rest[q:])
    return rest[:slash], rest[slash:]


def _apply_request_ops(headers: dict[str, str], ops: HeaderOps) -> None:
    for k in ops.remove:
        headers.pop(k, None)
    for k, v in ops.set:
        headers[k] = v
    for k, v in ops.add:
        headers[k] = f"{headers[k]},{v}" if k in headers else v


def _apply_response_ops(resp: HttpResponse, ops: HeaderOps) -> None:
    drop = set(ops.remove) | {k for k, _ in ops.set}
    if drop:
        resp.headers = [(k, v) for k, v in resp.headers if k.lower() not in drop]
    resp.headers.extend(ops.set)
    resp.headers.extend(ops.add)


def _shadow(authority: str) -> str:
    """Envoy shadowAppendedHost: "reviews:9080" -> "reviews-shadow:9080"."""
    host, sep, port = authority.rpartition(":")
    if sep and port.isdigit():
        return f"{host}-shadow:{port}"
    return f"{authority}-shadow"


class _PodUpstream:
    """A pod's outbound path, bound to its caller: the local Envoy when injected, kube-proxy otherwise."""

    __slots__ = ("_caller", "_send")

    def __init__(self, send: Callable[..., Awaitable[HttpResponse]], caller: Endpoint) -> None:
        self._send = send
        self._caller = caller

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes = b"",
        timeout_s: float | None = None,
    ) -> HttpResponse:
        return await self._send(self._caller, method, url, headers, body, timeout_s)


class Mesh:
    """The lab's Istio: compile config on `update()`, then route every hop like Envoy would.

    `on_span`, when set, is called once per proxy hop with {trace_id, span_id, parent_id, service, operation,
    start_us, duration_us, status}.
    """

    def __init__(
        self,
        *,
        rng: random.Random,
        telemetry: Telemetry,
        transport: Transport,
        options: MeshOptions = MeshOptions(),  # noqa: B008 - frozen value
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._rng = rng
        self._ids = random.Random(rng.getrandbits(64))  # ids and back-off jitter: keeps `rng` for routing
        self._telemetry = telemetry
        self._transport = transport
        self.options = options
        self._clock = clock
        self._wall = wall_clock
        self._snap: Snapshot = compile_snapshot((), (), options)
        self._balancers: dict[tuple[str, str], BalancerState] = {}
        # plain tuples (AccessLogEntry's fields): the garbage collector stops tracking a tuple of strings and
        # numbers, not a NamedTuple, and 10,000 lines per proxy would otherwise slow every full collection
        self._logs: dict[str, deque[tuple[Any, ...]]] = {}
        self._labels: dict[tuple[Any, ...], tuple[str, ...]] = {}
        self._gateway_pods: dict[tuple[str, str], Endpoint] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.on_span: Callable[[dict[str, Any]], None] | None = None

    # -- control plane --------------------------------------------------------------------------------------
    def update(self, objects: Sequence[dict[str, Any]], endpoints: Sequence[Endpoint]) -> None:
        """Recompile the whole snapshot from the current objects and running endpoints."""
        self._snap = compile_snapshot(objects, endpoints, self.options)
        if len(self._labels) > 50_000:
            self._labels.clear()

    def analyze(self) -> list[str]:
        """istioctl-analyze-style messages from the last compile (IST0101, IST0109, IST0173, IST0106)."""
        return list(self._snap.warnings)

    def access_log(self, pod: str) -> list[str]:
        """The last access-log lines of that pod's sidecar (or of the gateway pod)."""
        return [AccessLogEntry._make(fields).line() for fields in list(self._logs.get(pod, ()))]

    # -- data plane entry points ----------------------------------------------------------------------------
    def outbound(self, caller: Endpoint) -> Upstream:
        """The Upstream the app in `caller` uses: its sidecar when injected, kube-proxy otherwise."""
        return _PodUpstream(self._sidecar_outbound if caller.injected else self._kube_proxy, caller)

    def inbound(self, pod: Endpoint, app: Handler) -> Handler:
        """Wrap an injected pod's app with its inbound sidecar (reporter=destination metrics, log, trace)."""

        async def handle(request: HttpRequest) -> HttpResponse:
            return await self._sidecar_inbound(pod, app, request)

        return handle

    def gateway(self, gateway_pod: Endpoint) -> Handler:
        """The ingress gateway listener of `gateway_pod` (Gateway + bound VirtualServices)."""
        self._gateway_pods[(gateway_pod.namespace, gateway_pod.pod)] = gateway_pod

        async def handle(request: HttpRequest) -> HttpResponse:
            headers = dict(request.headers)
            authority = headers.get("host", "")
            host, _ = split_authority(authority)
            table = self._snap.gateway_table(gateway_pod, host)
            return await self._proxy(
                gateway_pod,
                table,
                request.method,
                request.path,
                headers,
                request.body,
                authority,
                None,
                gateway=True,
            )

        return handle

    # -- outbound --------------------------------------------------------------------------------------------
    async def _kube_proxy(
        self,
        caller: Endpoint,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        timeout_s: float | None,
    ) -> HttpResponse:
        authority, path = _split_url(url)
        host, port = split_authority(authority)
        svc = self._snap.resolve(host, caller.namespace)
        if svc is None:
            raise UpstreamError("connect", f"could not resolve host {host!r}")
        if port not in svc.ports or not svc.endpoints:
            raise UpstreamError("connect", f"connection refused: {authority}")
        ep = svc.endpoints[self._rng.randrange(len(svc.endpoints))]
        hdrs = {k.lower(): v for k, v in headers.items()}
        hdrs.setdefault("host", authority)
        return await self._transport.send(
            ep.address, HttpRequest(method, path, hdrs, body), timeout_s=timeout_s
        )

    async def _sidecar_outbound(
        self,
        caller: Endpoint,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        timeout_s: float | None,
    ) -> HttpResponse:
        authority, path = _split_url(url)
        hdrs = {k.lower(): v for k, v in headers.items()}
        host, port = split_authority(authority)
        snap = self._snap
        svc = snap.resolve(host, caller.namespace)
        if svc is None:
            raise UpstreamError("connect", f"could not resolve host {host!r}")
        if port not in svc.ports:
            raise UpstreamError(
                "connect", f"connection refused: {authority}"
            )  # PassthroughCluster to nowhere
        table = snap.mesh_table(caller, svc, port)
        coro = self._proxy(caller, table, method, path, hdrs, body, hdrs.get("host", authority), svc)
        if timeout_s is None:
            return await coro
        try:
            async with asyncio.timeout(timeout_s):
                return await coro
        except TimeoutError:
            raise UpstreamError("timeout", f"timeout after {timeout_s}s: {url}") from None

    # -- the proxy -------------------------------------------------------------------------------------------
    def _ensure_ids(self, headers: dict[str, str]) -> tuple[str, str, str | None]:
        """x-request-id, and a new span (b3 + traceparent) under the incoming one; the trace id is kept."""
        ids = self._ids
        if "x-request-id" not in headers:
            h = f"{ids.getrandbits(128):032x}"  # UUIDv4 layout without uuid.UUID's cost
            headers["x-request-id"] = (
                f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"
            )
        trace = headers.get("x-b3-traceid")
        parent = headers.get("x-b3-spanid")
        if not trace:
            tp = headers.get("traceparent", "")
            parts = tp.split("-")
            if len(parts) == 4 and len(parts[1]) == 32:
                trace, parent = parts[1], parts[2]
        if not trace:
            trace, parent = f"{ids.getrandbits(128):032x}", None
        span = f"{ids.getrandbits(64):016x}"
        headers["x-b3-traceid"] = trace
        headers["x-b3-spanid"] = span
        if parent:
            headers["x-b3-parentspanid"] = parent
        else:
            headers.pop("x-b3-parentspanid", None)
        headers.setdefault("x-b3-sampled", "1")
        headers["traceparent"] = f"00-{trace:0>32}-{span}-01"
        return trace, span, parent

    def _balancer(self, proxy: Endpoint, cluster: ClusterRef) -> BalancerState:
        key = (proxy.pod, cluster.name)
        state = self._balancers.get(key)
        if state is None:
            state = self._balancers[key] = BalancerState()
        return state

    async def _proxy(
        self,
        proxy: Endpoint,
        table: RouteTable | None,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        authority: str,
        svc: ServiceInfo | None,
        *,
        gateway: bool = False,
    ) -> HttpResponse:
        start = self._clock()
        wall = self._wall()
        trace = self._ensure_ids(headers)
        decision = decide(table, RequestView(method, path, headers, authority), self._rng)
        flags: list[str] = []
        dest: Endpoint | None = None
        cluster_name = "-"
        upstream_host = "-"
        upstream_ms: int | None = None
        details = "via_upstream"
        target_svc = svc
        status = 0
        resp: HttpResponse | None = None
        try:
            if decision.kind == "local":
                reply = decision.reply
                assert reply is not None
                flags.append(reply.flag)
                details = _DETAILS.get(reply.flag, reply.flag)
                resp = _local(reply)
            elif decision.kind == "direct":
                details = "direct_response"
                resp = HttpResponse(decision.status, [], decision.body)
                if decision.location:
                    resp.headers.append(("location", decision.location))
                elif decision.body:
                    resp.headers.append(("content-type", "text/plain"))
            else:
                resp, dest, upstream_ms, cluster_name, upstream_host, details = await self._forward_decision(
                    proxy, decision, method, headers, body, flags, gateway
                )
                target = decision.target
                assert target is not None
                target_svc = target.cluster.service or target_svc
                route = decision.route
                assert route is not None
                if route.spec.response_headers:
                    _apply_response_ops(resp, route.spec.response_headers)
                if target.response_headers:
                    _apply_response_ops(resp, target.response_headers)
            status = resp.status
            return resp
        except asyncio.CancelledError:
            flags.append("DC")  # the app gave up (its own timeout): Envoy logs a downstream disconnect
            details = "downstream_remote_disconnect"
            raise
        finally:
            self._report(
                proxy=proxy,
                gateway=gateway,
                start=start,
                wall=wall,
                method=method,
                path=path,
                headers=headers,
                authority=authority,
                status=status,
                flags=",".join(flags) or "-",
                details=details,
                bytes_in=len(body),
                bytes_out=len(resp.body) if resp is not None else 0,
                upstream_ms=upstream_ms,
                upstream_host=upstream_host,
                cluster=cluster_name,
                route=decision.route.name if decision.route else "-",
                dest=dest,
                svc=target_svc,
                trace=trace,
            )

    async def _forward_decision(
        self,
        proxy: Endpoint,
        decision: Decision,
        method: str,
        headers: dict[str, str],
        body: bytes,
        flags: list[str],
        gateway: bool,
    ) -> tuple[HttpResponse, Endpoint | None, int | None, str, str, str]:
        target = decision.target
        route = decision.route
        assert target is not None and route is not None
        cluster = target.cluster
        if decision.delay_s > 0:
            flags.append("DI")
            await asyncio.sleep(decision.delay_s)
        if decision.abort_status:
            reply = fault_abort(decision.abort_status)
            flags.append("FI")
            return _local(reply), None, None, cluster.name, "-", _DETAILS["FI"]
        if cluster.missing:
            flags.append("NC")
            return _local(NO_CLUSTER), None, None, cluster.name, "-", _DETAILS["NC"]
        fwd = dict(headers)
        if route.spec.request_headers:
            _apply_request_ops(fwd, route.spec.request_headers)
        if target.request_headers:
            _apply_request_ops(fwd, target.request_headers)
        fwd["host"] = decision.authority
        fwd.setdefault("x-forwarded-proto", "http")
        fwd[PEER_HEADER] = (
            f"{'router' if gateway else 'sidecar'}~{proxy.address.split(':')[0]}"
            f"~{proxy.pod}.{proxy.namespace}"
            f"~{proxy.namespace}.svc.{self.options.cluster_domain}"
        )
        for mirror in decision.mirrors:
            self._spawn_mirror(proxy, mirror, method, decision.path, fwd, body)
        resp, flag, ep, upstream_ms = await self._send_with_retries(
            proxy, cluster, route, method, decision.path, fwd, body
        )
        if flag:
            flags.append(flag)
        details = _DETAILS.get(flag, "via_upstream") if flag else "via_upstream"
        return resp, ep, upstream_ms, cluster.name, ep.address if ep else "-", details

    async def _send_with_retries(
        self,
        proxy: Endpoint,
        cluster: ClusterRef,
        route: Route,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[HttpResponse, str | None, Endpoint | None, int | None]:
        """Router filter: overflow check, route timeout, retries with the previous_hosts predicate."""
        policy = cluster.policy
        state = self._balancer(proxy, cluster)
        if not cluster.endpoints:
            return _local(NO_HEALTHY_UPSTREAM), "UH", None, None
        if state.in_flight >= policy.max_in_flight:
            return _local(OVERFLOW), "UO", None, None  # circuit breaker: fail fast
        state.in_flight += 1
        try:
            timeout_s = route.spec.timeout_s
            if timeout_s is None:
                return await self._attempts(proxy, cluster, state, route, method, path, headers, body)
            try:
                async with asyncio.timeout(timeout_s):
                    return await self._attempts(proxy, cluster, state, route, method, path, headers, body)
            except TimeoutError:
                return _local(UPSTREAM_TIMEOUT), "UT", None, None
        finally:
            state.in_flight -= 1

    async def _attempts(
        self,
        proxy: Endpoint,
        cluster: ClusterRef,
        state: BalancerState,
        route: Route,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[HttpResponse, str | None, Endpoint | None, int | None]:
        retry = route.retry
        policy = cluster.policy
        attempts = 1 + max(retry.num_retries, 0)
        tried: list[str] = []
        hash_key = self._hash_key(proxy, policy, headers, path)
        clock = self._clock
        for attempt in range(1, attempts + 1):
            now = clock()
            ep = pick_endpoint(
                cluster.endpoints, state, policy, self._rng, now=now, exclude=tried, hash_key=hash_key
            )
            if ep is None:
                return _local(NO_HEALTHY_UPSTREAM), "UH", None, None
            tried.append(ep.address)
            headers["x-envoy-attempt-count"] = str(attempt)
            addr = ep.address
            state.active[addr] = state.active.get(addr, 0) + 1
            try:
                resp = await self._transport.send(
                    addr, HttpRequest(method, path, dict(headers), body), timeout_s=retry.per_try_timeout_s
                )
            except UpstreamError as exc:
                if exc.kind == "timeout":  # per-try timeout
                    record_outcome(
                        state, policy.outlier, ep, 504, now=clock(), total_hosts=len(cluster.endpoints)
                    )
                    if retry.retries_timeout and attempt < attempts:
                        await self._backoff(attempt)
                        continue
                    return _local(UPSTREAM_TIMEOUT), "UT", ep, None
                record_outcome(state, policy.outlier, ep, 0, now=clock(), total_hosts=len(cluster.endpoints))
                if retry.on_connect and attempt < attempts:
                    await self._backoff(attempt)
                    continue
                if attempt > 1:
                    return _local(RETRIES_EXHAUSTED), "URX", ep, None
                return _local(CONNECT_FAILURE), "UF", ep, None
            finally:
                state.active[addr] -= 1
            upstream_ms = int((clock() - now) * 1000)
            record_outcome(
                state, policy.outlier, ep, resp.status, now=clock(), total_hosts=len(cluster.endpoints)
            )
            retriable = retry.retries_status(resp.status)
            if retriable and attempt < attempts:
                await self._backoff(attempt)
                continue
            resp.headers.append(("x-envoy-upstream-service-time", str(upstream_ms)))
            return resp, ("URX" if retriable and attempt > 1 else None), ep, upstream_ms
        raise AssertionError("unreachable")  # pragma: no cover

    async def _backoff(self, attempt: int) -> None:
        base = self.options.retry_backoff_base_s
        if base > 0:
            # Envoy: fully jittered, interval doubles per retry (25 ms base, 250 ms cap).
            await asyncio.sleep(self._ids.random() * min(base * (2**attempt - 1), 10 * base))

    @staticmethod
    def _hash_key(proxy: Endpoint, policy: Any, headers: Mapping[str, str], path: str) -> str | None:
        if policy.hash_header:
            return headers.get(policy.hash_header)
        if policy.hash_source:
            return proxy.address
        if policy.hash_query:
            return RequestView("GET", path, headers, "").query_param(policy.hash_query)
        if policy.hash_cookie:
            for part in headers.get("cookie", "").split(";"):
                name, _, value = part.strip().partition("=")
                if name == policy.hash_cookie:
                    return value
        return None

    # -- mirror ----------------------------------------------------------------------------------------------
    def _spawn_mirror(
        self,
        proxy: Endpoint,
        cluster: ClusterRef,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
    ) -> None:
        if cluster.missing or not cluster.endpoints:
            return
        state = self._balancer(proxy, cluster)
        ep = pick_endpoint(cluster.endpoints, state, cluster.policy, self._rng, now=self._clock())
        if ep is None:
            return
        shadow = dict(headers)
        if self.options.shadow_host_suffix:
            shadow["host"] = _shadow(shadow.get("host", ""))
        task = asyncio.get_running_loop().create_task(
            self._mirror(ep.address, HttpRequest(method, path, shadow, body))
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _mirror(self, address: str, request: HttpRequest) -> None:
        """Fire and forget: the response (or failure) is discarded, and no source-side metric is recorded."""
        with contextlib.suppress(UpstreamError):
            await self._transport.send(address, request, timeout_s=None)

    # -- inbound ---------------------------------------------------------------------------------------------
    def _peer(self, peer_id: str | None) -> Endpoint | None:
        if not peer_id:
            return None
        parts = peer_id.split("~")
        if len(parts) < 3:
            return None
        pod, _, ns = parts[2].rpartition(".")
        return self._snap.pods.get((ns, pod)) or self._gateway_pods.get((ns, pod))

    def _inbound_service(self, pod: Endpoint, authority: str) -> ServiceInfo | None:
        host, _ = split_authority(authority)
        snap = self._snap
        svc = snap.resolve(host, pod.namespace)
        if svc is None and host.endswith("-shadow"):
            svc = snap.resolve(host[: -len("-shadow")], pod.namespace)
        if svc is None:
            own = snap.pod_services.get((pod.namespace, pod.pod))
            svc = own[0] if own else None
        return svc

    async def _sidecar_inbound(self, pod: Endpoint, app: Handler, request: HttpRequest) -> HttpResponse:
        start = self._clock()
        wall = self._wall()
        headers = dict(request.headers)
        source = self._peer(headers.pop(PEER_HEADER, None))
        headers.pop("x-envoy-peer-metadata", None)
        trace = self._ensure_ids(headers)
        status = 0
        resp: HttpResponse | None = None
        flags = "-"
        try:
            resp = await app(HttpRequest(request.method, request.path, headers, request.body))
            status = resp.status
            return resp
        except asyncio.CancelledError:
            flags = "DC"
            raise
        except Exception:
            status = 500
            raise
        finally:
            authority = headers.get("host", "")
            svc = self._inbound_service(pod, authority)
            _, port = split_authority(authority, svc.ports[0] if svc and svc.ports else 80)
            self._report(
                proxy=pod,
                gateway=False,
                start=start,
                wall=wall,
                method=request.method,
                path=request.path,
                headers=headers,
                authority=authority,
                status=status,
                flags=flags,
                details="via_upstream",
                bytes_in=len(request.body),
                bytes_out=len(resp.body) if resp is not None else 0,
                upstream_ms=None,
                upstream_host=pod.address,
                cluster=f"inbound|{port}||",
                route="default",
                dest=pod,
                svc=svc,
                trace=trace,
                source=source,
            )

    # -- telemetry -------------------------------------------------------------------------------------------
    def _label_tuple(
        self,
        reporter: str,
        source: Endpoint | None,
        dest: Endpoint | None,
        svc: ServiceInfo | None,
        authority: str,
        status: int,
        flags: str,
    ) -> tuple[str, ...]:
        key = (
            reporter,
            source.namespace if source else None,
            source.pod if source else None,
            dest.namespace if dest else None,
            dest.pod if dest else None,
            svc.fqdn if svc else authority,
            status,
            flags,
        )
        labels = self._labels.get(key)
        if labels is None:
            domain = self.options.cluster_domain
            if svc is not None:
                svc_labels = (svc.fqdn, svc.name, svc.namespace)
            else:
                host = split_authority(authority)[0] if authority else UNKNOWN
                svc_labels = (host, host, UNKNOWN)
            if reporter == "source":
                csp = UNKNOWN
            else:
                csp = "mutual_tls" if source is not None and source.injected else "none"
            labels = (
                reporter,
                *peer_labels(source, domain),
                *peer_labels(dest, domain)[:4],
                *svc_labels,
                *peer_labels(dest, domain)[4:],
                "http",
                str(status),
                flags,
                csp,
                "",
            )
            self._labels[key] = labels
        return labels

    def _report(
        self,
        *,
        proxy: Endpoint,
        gateway: bool,
        start: float,
        wall: float,
        method: str,
        path: str,
        headers: Mapping[str, str],
        authority: str,
        status: int,
        flags: str,
        details: str,
        bytes_in: int,
        bytes_out: int,
        upstream_ms: int | None,
        upstream_host: str,
        cluster: str,
        route: str,
        dest: Endpoint | None,
        svc: ServiceInfo | None,
        trace: tuple[str, str, str | None],
        source: Endpoint | Any = False,
    ) -> None:
        elapsed_s = self._clock() - start
        duration_ms = elapsed_s * 1000.0
        if source is False:  # outbound / gateway: reporter=source
            labels = self._label_tuple("source", proxy, dest, svc, authority, status, flags)
        else:
            labels = self._label_tuple("destination", source, proxy, svc, authority, status, flags)
        self._telemetry.observe(labels, duration_ms)
        log = self._logs.get(proxy.pod)
        if log is None:
            log = self._logs[proxy.pod] = deque(maxlen=ACCESS_LOG_LINES)
        # Kept as fields and formatted when read (`kubectl logs`): cheaper per request, and no larger.
        log.append(
            (
                wall,
                method,
                path,
                status,
                flags,
                details,
                bytes_in,
                bytes_out,
                int(duration_ms),
                upstream_ms,
                headers.get("x-forwarded-for", "-"),
                headers.get("user-agent", "-"),
                headers.get("x-request-id", "-"),
                authority,
                upstream_host,
                cluster,
                route,
            )
        )
        hook = self.on_span
        if hook is not None:
            canonical = proxy.labels.get("app") or proxy.workload
            with contextlib.suppress(Exception):  # a broken listener must not break traffic
                hook(
                    {
                        "trace_id": trace[0],
                        "span_id": trace[1],
                        "parent_id": trace[2],
                        "service": f"{canonical}.{proxy.namespace}",
                        "operation": f"{authority}{'/*' if source is False else path}"
                        if not gateway
                        else f"{authority}{path}",
                        "kind": "client" if source is False and not gateway else "server",
                        "start_us": int(wall * 1e6),
                        "duration_us": int(elapsed_s * 1e6),
                        "status": status,
                    }
                )

    async def drain(self) -> None:
        """Wait for in-flight mirror requests (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
