"""From routed calls to what /productpage pages should show: the Bookinfo app model behind the mesh.

Pure. The app facts (bookinfo-app.md sections 2-3): productpage calls details once and reviews up to
twice, each with a 3 s client timeout; reviews v2 waits 10 s and v3 2.5 s for ratings; v1 never calls
ratings; reviews forwards end-user to ratings; a failed ratings call still gives a 200 reviews response
("ratings unavailable").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction

from harness.envoy import NO_ROUTE
from harness.model import PageState, Version
from harness.oracle._objects import CLUSTER_DOMAIN, OracleError, Pod, World, build_world
from harness.oracle._routes import (
    Branch,
    Call,
    Proxy,
    Routed,
    applicable_rules,
    first_match,
    gateway_virtual_services,
    is_catch_all,
    resolve_destination,
    route_call,
    route_with_vs,
)

CLIENT_TIMEOUT = Fraction(3)  # productpage's requests.get(..., timeout=3.0)
REVIEWS_TRIES = 2  # productpage's deliberate retry loop
RATINGS_TIMEOUT = {"black": Fraction(10), "red": Fraction(5, 2)}  # reviews v2 / v3 (LibertyRestEndpoint.java)
TIE_MARGIN = Fraction(1, 20)  # a latency this close to a timeout could go either way: refuse to guess


@dataclass(frozen=True, slots=True)
class Request:
    """One request class the driver sends: who is logged in, which path, through the gateway or not."""

    user: str | None = None
    path: str = "/productpage"
    via_gateway: bool = True
    gateway_port: int = 80
    host: str | None = None  # Host header; None = an address (IP:nodePort), which only "*" hosts match


@dataclass(frozen=True, slots=True)
class Expectation:
    """What the mesh should produce for one request class, derived from the applied objects alone.

    reviews: share of productpage's reviews requests routed to each version (per request, zero shares omitted;
      the shares sum to less than 1 when some requests fail at the proxy: NC, UH, NR, FI).
    pods: the same per pod name (only when Pod objects were given).
    page_states: share of pages per PageState value.
    pages_by_version: share of pages per Version value the page shows ("unknown" for reviews errors).
    mirror: mirror target workload -> expected mirrored copies per reviews request.
    gateway_status: 200 when the gateway routes the path to productpage, else the gateway's status
      (404 NR, 503 NC/UH, ...).
    """

    reviews: dict[str, float]
    page_states: dict[str, float]
    gateway_status: int
    pods: dict[str, float] = field(default_factory=dict)
    pages_by_version: dict[str, float] = field(default_factory=dict)
    mirror: dict[str, float] = field(default_factory=dict)
    gateway_flag: str | None = None
    reviews_requests_per_page: float = 0.0
    reviews_route: str = ""
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "reviews": self.reviews,
            "pods": self.pods,
            "page_states": self.page_states,
            "pages_by_version": self.pages_by_version,
            "mirror": self.mirror,
            "gateway_status": self.gateway_status,
            "gateway_flag": self.gateway_flag,
            "reviews_requests_per_page": self.reviews_requests_per_page,
            "reviews_route": self.reviews_route,
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class _PageModel:
    pages: list[tuple[Fraction, PageState, str, Fraction]]  # (probability, state, version shown, latency)
    per_pod: dict[tuple[str, str], Fraction]  # (pod, version) -> share of reviews requests
    mirrors: dict[str, Fraction]  # workload -> copies per reviews request
    calls: Fraction  # expected reviews requests per page
    source: str  # what decided the reviews routing


@dataclass(frozen=True, slots=True)
class _Result:
    """How one app-level call ended, as the calling application sees it."""

    ok: bool
    latency: Fraction
    detail: str = ""


def _exceeds(latency: Fraction, timeout: Fraction, what: str) -> bool:
    if abs(latency - timeout) < TIE_MARGIN:
        raise OracleError(
            f"{what}: latency {float(latency):g}s is too close to the {float(timeout):g}s timeout to call"
        )
    return latency > timeout


def _hop(
    branch: Branch, served: list[tuple[Fraction, _Result]], client_timeout: Fraction | None, what: str
) -> list[tuple[Fraction, _Result]]:
    """Combine the proxy branch with how the pod answered, the route timeout and the client's timeout."""
    out: list[tuple[Fraction, _Result]] = []
    if branch.pod is None:  # local reply or refused connection
        outcomes = [(Fraction(1), _Result(False, branch.delay, branch.flag or ""))]
        if branch.flag == "DR" and branch.status == 200:
            raise OracleError(f"{what}: a directResponse 200 inside the mesh is not modelled")
    else:
        outcomes = []
        for p, r in served:
            latency = r.latency
            if branch.timeout is not None and _exceeds(latency, branch.timeout, f"{what} route timeout"):
                r = _Result(False, branch.timeout, "UT")
                latency = branch.timeout
            outcomes.append((p, _Result(r.ok, branch.delay + latency, r.detail)))
    for p, r in outcomes:
        if client_timeout is not None and _exceeds(r.latency, client_timeout, f"{what} client timeout"):
            r = _Result(False, client_timeout, "client timeout")
        out.append((branch.p * p, r))
    return out


class _App:
    """Bookinfo behaviour behind the proxies of one World."""

    def __init__(self, world: World, namespace: str, user: str | None) -> None:
        self.world = world
        self.ns = namespace
        self.user = user
        self.notes: list[str] = []

    def fqdn(self, name: str) -> str:
        return f"{name}.{self.ns}.{CLUSTER_DOMAIN}"

    def call(self, caller: Pod, service: str, path: str, headers: dict[str, str]) -> Routed:
        proxy = Proxy(caller.namespace, caller.labels, caller.sidecar)
        routed = route_call(
            self.world, proxy, self.fqdn(service), Call(path, headers, f"{service}:9080", 9080)
        )
        self.notes.extend(routed.notes)
        return routed

    @staticmethod
    def _image_kind(pod: Pod, app: str) -> str:
        m = re.search(rf"examples-bookinfo-{app}-([\w-]+?)(?::|@|$)", pod.image)
        return m.group(1) if m else pod.version

    def ratings(self, pod: Pod) -> list[tuple[Fraction, _Result]]:
        kind = self._image_kind(pod, "ratings")
        if kind != "v1":
            raise OracleError(f"ratings pod {pod.name} runs {kind}; only ratings v1 is modelled")
        return [(Fraction(1), _Result(True, Fraction(0)))]

    def details(self, pod: Pod) -> list[tuple[Fraction, _Result]]:
        kind = self._image_kind(pod, "details")
        if kind != "v1":
            raise OracleError(f"details pod {pod.name} runs {kind}; only details v1 is modelled")
        return [(Fraction(1), _Result(True, Fraction(0)))]

    def reviews(self, pod: Pod, headers: dict[str, str]) -> list[tuple[Fraction, _Result]]:
        """A reviews pod's response: ok=True always means HTTP 200; detail says whether ratings failed."""
        kind = self._image_kind(pod, "reviews")
        color = {"v1": None, "v2": "black", "v3": "red"}.get(kind, "?")
        if color == "?":
            raise OracleError(f"reviews pod {pod.name}: cannot tell v1/v2/v3 behaviour from {pod.image!r}")
        if color is None:
            return [(Fraction(1), _Result(True, Fraction(0), "stars-none"))]
        fwd = {k: v for k, v in headers.items() if k == "end-user"}
        routed = self.call(pod, "ratings", "/ratings/0", fwd)
        out: list[tuple[Fraction, _Result]] = []
        for branch in routed.branches:
            served = self.ratings(branch.pod) if branch.pod else []
            for p, r in _hop(branch, served, RATINGS_TIMEOUT[color], f"{pod.name} -> ratings"):
                out.append((p, _Result(True, r.latency, "ratings-ok" if r.ok else "ratings-unavailable")))
        return out

    def productpage(self, pp: Pod) -> _PageModel:
        """Every way one productpage pod can render the page, with exact probabilities."""
        kind = self._image_kind(pp, "productpage")
        if kind != "v1":
            raise OracleError(f"productpage pod {pp.name} runs {kind}; only productpage v1 is modelled")
        headers = {"end-user": self.user} if self.user else {}
        details: list[tuple[Fraction, _Result]] = []
        for b in self.call(pp, "details", "/details/0", headers).branches:
            served = self.details(b.pod) if b.pod else []
            details.extend(_hop(b, served, CLIENT_TIMEOUT, f"{pp.name} -> details"))
        rv = self.call(pp, "reviews", "/reviews/0", headers)
        per_pod: dict[tuple[str, str], Fraction] = {}
        one_try: list[tuple[Fraction, _Result, str]] = []
        for b in rv.branches:
            if b.pod is not None:
                key = (b.pod.name, b.pod.version)
                per_pod[key] = per_pod.get(key, Fraction(0)) + b.p
            served = self.reviews(b.pod, dict(b.headers)) if b.pod else []
            version = b.pod.version if b.pod else Version.UNKNOWN.value
            for p, r in _hop(b, served, CLIENT_TIMEOUT, f"{pp.name} -> reviews"):
                one_try.append((p, r, version))
        p_fail = sum((p for p, r, _ in one_try if not r.ok), Fraction(0))
        calls = 1 + p_fail * (REVIEWS_TRIES - 1)
        # Up to two independent tries: the first success wins.
        tries: list[tuple[Fraction, _Result, str]] = [(p, r, v) for p, r, v in one_try if r.ok]
        fail_lat = [(p, r.latency) for p, r, _ in one_try if not r.ok]
        for pf, lf in fail_lat:
            for p, r, v in one_try:
                tries.append(
                    (pf * p, _Result(r.ok, lf + r.latency, r.detail), v if r.ok else Version.UNKNOWN.value)
                )
        pages: list[tuple[Fraction, PageState, str, Fraction]] = []
        for pd, d in details:
            for pr, r, v in tries:
                if not r.ok:
                    state, shown = PageState.REVIEWS_ERROR, Version.UNKNOWN.value
                elif not d.ok:
                    state, shown = PageState.DETAILS_ERROR, v
                elif r.detail == "ratings-unavailable":
                    state, shown = PageState.RATINGS_UNAVAILABLE, v
                else:
                    state, shown = PageState.OK, v
                pages.append((pd * pr, state, shown, d.latency + r.latency))
        return _PageModel(pages, per_pod, dict(rv.mirrors), calls, rv.source)


def _floats(d: dict[str, Fraction]) -> dict[str, float]:
    return {k: float(v) for k, v in sorted(d.items()) if v}


def _add(d: dict[str, Fraction], key: str, value: Fraction) -> None:
    d[key] = d.get(key, Fraction(0)) + value


def _dedup(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _gateway_stage(
    world: World, request: Request, namespace: str, notes: list[str]
) -> tuple[list[Branch], int, str | None, str]:
    """Ingress gateway: which productpage pods receive the request, or the local reply."""
    pp_fqdn = f"productpage.{namespace}.{CLUSTER_DOMAIN}"
    bound, why = gateway_virtual_services(world, request.gateway_port, request.host)
    notes.extend(why)
    if not bound:
        notes.append(
            f"no VirtualService bound to a gateway serves port {request.gateway_port} for this Host: "
            f"404 {NO_ROUTE.flag}"
        )
        return [], NO_ROUTE.status, NO_ROUTE.flag, ""
    # Fragments for one host merge: order across VSs is undefined, catch-alls go last.
    first = bound[0]
    proxy_for = {
        id(vs): Proxy("istio-system", world.ingress_labels, False, gw.key, server.number)
        for vs, gw, server in bound
    }
    call = Call(request.path, {}, request.host, 0)
    hits = []
    for vs, _gw, _server in bound:
        rules = applicable_rules(vs, proxy_for[id(vs)])
        hit = first_match([r for r in rules if not is_catch_all(r[1])], call, vs.meta.ref)
        hit = hit or first_match([r for r in rules if is_catch_all(r[1])], call, vs.meta.ref)
        if hit:
            hits.append((vs, hit, is_catch_all(hit[1])))
    specific = [h for h in hits if not h[2]] or hits
    if len({id(h[0]) for h in specific}) > 1:
        raise OracleError(
            "several gateway VirtualServices match " + request.path + "; their merge order is "
            "undefined: " + ", ".join(h[0].meta.ref for h in specific)
        )
    if not specific:
        notes.append(f"{first[0].meta.ref}: no gateway rule matches {request.path}: 404 NR")
        return [], NO_ROUTE.status, NO_ROUTE.flag, ""
    vs, (idx, rule), _ = specific[0]
    proxy = proxy_for[id(vs)]
    single = type(vs)(vs.meta, vs.hosts, vs.gateways, vs.gateways_written, (rule,), vs.export_to)
    routed = route_with_vs(world, single, proxy, call)
    assert routed is not None
    notes.append(f"gateway: {vs.meta.ref} rule {idx + 1} matches {request.path}")
    for b in routed.branches:
        if b.pod is not None and b.pod.labels.get("app") != "productpage":
            raise OracleError(f"gateway routes {request.path} to {b.pod.name}; only productpage is modelled")
    for dest in rule.get("route", []) or []:
        _pods, _flag, label = resolve_destination(
            world, proxy, dest.get("destination", {}), vs.meta.namespace, vs.meta.ref
        )
        if _flag:
            notes.append(f"gateway: {label}")
    reached = [b for b in routed.branches if b.pod is not None]
    if reached:
        return list(routed.branches), 200, None, pp_fqdn
    worst = max(routed.branches, key=lambda b: b.p)
    return list(routed.branches), worst.status or 503, worst.flag, pp_fqdn


def expected_reviews_split(
    objects: Iterable[object], request: Request, *, namespace: str = "default"
) -> Expectation:
    """The traffic split and page states the mesh should produce for one request class, before any traffic."""
    world = build_world(objects, namespace)
    notes: list[str] = []
    pp_fqdn = f"productpage.{namespace}.{CLUSTER_DOMAIN}"
    if request.via_gateway:
        branches, status, flag, _ = _gateway_stage(world, request, namespace, notes)
        if not any(b.pod for b in branches):
            return Expectation(
                {},
                {PageState.MESH_ERROR.value: 1.0},
                status,
                gateway_flag=flag,
                pages_by_version={Version.UNKNOWN.value: 1.0},
                notes=_dedup(notes),
            )
    else:
        client = Proxy(namespace, {}, False)
        routed = route_call(world, client, pp_fqdn, Call(request.path, {}, "productpage:9080", 9080))
        notes.extend(routed.notes)
        branches, status, flag = list(routed.branches), 200, None
        if not any(b.pod for b in branches):
            raise OracleError("productpage has no endpoints: a direct client gets a refused connection")
    if request.path.split("?")[0] != "/productpage":
        raise OracleError(f"path {request.path}: the oracle models only /productpage pages")

    app = _App(world, namespace, request.user)
    states: dict[str, Fraction] = {}
    by_version: dict[str, Fraction] = {}
    reviews: dict[str, Fraction] = {}
    pods: dict[str, Fraction] = {}
    mirrors: dict[str, Fraction] = {}
    calls = Fraction(0)
    reached = sum((b.p for b in branches if b.pod), Fraction(0))
    sources: list[str] = []
    for b in branches:
        if b.pod is None:
            _add(states, PageState.MESH_ERROR.value, b.p)
            _add(by_version, Version.UNKNOWN.value, b.p)
            notes.append(f"gateway answers {b.status} {b.flag} for {float(b.p):.4g} of requests")
            continue
        pp = b.pod
        notes.append(
            f"productpage pod {pp.name} "
            + (
                "has a sidecar: mesh VirtualServices apply to its calls"
                if pp.sidecar
                else "has NO sidecar: its calls ignore every mesh VirtualService"
            )
        )
        model = app.productpage(pp)
        w = b.p / reached  # this pod's share of productpage-served pages, for per-request shares
        calls += w * model.calls
        sources.append(model.source)
        for (name, version), share in model.per_pod.items():
            _add(pods, name, w * share)
            _add(reviews, version, w * share)
        for target, copies in model.mirrors.items():
            _add(mirrors, target, w * copies)
        for p, state, shown, latency in model.pages:
            if b.timeout is not None and _exceeds(latency, b.timeout, "gateway route timeout"):
                state, shown = PageState.MESH_ERROR, Version.UNKNOWN.value
                notes.append(
                    f"gateway route timeout {float(b.timeout):g}s < page latency {float(latency):g}s: 504 UT"
                )
            _add(states, state.value, b.p * p)
            _add(by_version, shown, b.p * p)
    notes.extend(app.notes)
    notes.append(
        "reviews split per request: "
        + (
            ", ".join(f"{k} {float(v):.4g}" for k, v in sorted(reviews.items()))
            or "no request reaches a reviews pod"
        )
    )
    notes.append("page states: " + ", ".join(f"{k} {float(v):.4g}" for k, v in sorted(states.items())))
    return Expectation(
        reviews=_floats(reviews),
        page_states=_floats(states),
        gateway_status=status,
        pods=_floats(pods) if world.pods_given else {},
        pages_by_version=_floats(by_version),
        mirror=_floats(mirrors),
        gateway_flag=flag,
        reviews_requests_per_page=float(calls),
        reviews_route=" + ".join(_dedup(sources)),
        notes=_dedup(notes),
    )
