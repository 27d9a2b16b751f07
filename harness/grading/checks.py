"""Config checks: a rubric check against the objects read from a cluster. Pure.

Every check compares parsed objects, never text: kubectl-style field paths on whatever apiVersion the server
returned, hosts compared as Istio resolves them (`reviews` in namespace default is
`reviews.default.svc.cluster.local`), routing judged by the oracle (one VirtualService or several that
together do the same, the caller's sidecar, subsets that exist and select pods). Each result says what was
expected, what was found and where (object and field path), and carries the oracle's istioctl-style
diagnoses that concern the objects it looked at, as advice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness import oracle
from harness.checks import ready_column
from harness.grading.jsonpath import evaluate, same
from harness.grading.rubric import Check
from harness.manifests import matches_selector
from harness.oracle._objects import build_world, resolve_host
from harness.oracle._routes import is_catch_all, mesh_virtual_services

ORACLE_KINDS = ("Namespace", "Pod", "Service", "Deployment", "VirtualService", "DestinationRule", "Gateway")
PROXY = "istio-proxy"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one atomic check, with the evidence a contestant can learn from."""

    check_id: str
    kind: str
    category: str  # "config" | "behaviour"
    weight: float
    passed: bool
    expected: str
    found: str
    where: str = ""  # "VirtualService default/reviews spec.http[1].route[*].destination.subset"
    advice: str = ""
    diagnoses: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.check_id,
            "kind": self.kind,
            "category": self.category,
            "weight": self.weight,
            "passed": self.passed,
            "expected": self.expected,
            "found": self.found,
            "where": self.where,
            "advice": self.advice,
            "diagnoses": list(self.diagnoses),
            "details": dict(self.details),
        }


def result(
    check: Check,
    passed: bool,
    expected: str,
    found: str,
    where: str = "",
    *,
    diagnoses: Sequence[str] = (),
    details: Mapping[str, Any] | None = None,
) -> CheckResult:
    advice = "" if passed else (diagnoses[0] if diagnoses else check.advice)
    return CheckResult(
        check.id,
        check.kind,
        check.category,
        check.weight,
        passed,
        expected,
        found,
        where,
        advice,
        tuple(diagnoses) if not passed else (),
        dict(details or {}),
    )


def ref(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind')} {ns}/{meta.get('name')}" if ns else f"{obj.get('kind')} {meta.get('name')}"


def _ns(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _short(values: Iterable[object], limit: int = 6) -> str:
    shown = [json.dumps(v, sort_keys=True) if not isinstance(v, str) else v for v in values]
    more = f" (+{len(shown) - limit} more)" if len(shown) > limit else ""
    return "[" + ", ".join(shown[:limit]) + "]" + more


# ---------------------------------------------------------------------------------------------------------
# The oracle's view of the state (computed once per sheet)


@dataclass
class OracleView:
    objects: list[dict]
    excluded: dict[str, tuple[tuple[str, ...], str]]  # ref -> (FQDN hosts, why the oracle cannot model it)
    findings: list[oracle.Finding]
    error: str | None = None
    _cache: dict[tuple[str | None, str, bool], object] = field(default_factory=dict)

    def expectation(
        self, user: str | None, path: str, namespace: str, *, via_gateway: bool = True
    ) -> oracle.Expectation:
        """What the config makes of a request class; via_gateway=False asks about the mesh alone (a request
        straight to productpage), so a gateway mistake is not counted again against mesh routing."""
        key = (user, path, via_gateway)
        if key not in self._cache:
            try:
                self._cache[key] = oracle.expected_reviews_split(
                    self.objects,
                    oracle.Request(user=user, path=path, via_gateway=via_gateway),
                    namespace=namespace,
                )
            except oracle.OracleError as exc:
                self._cache[key] = exc
        value = self._cache[key]
        if isinstance(value, Exception):
            raise value
        return value  # type: ignore[return-value]

    def blind_to(self, fqdn: str) -> str | None:
        """Why the oracle cannot judge routing of `fqdn` (an object naming it could not be modelled)."""
        for name, (hosts, why) in self.excluded.items():
            if fqdn in hosts or "*" in hosts:
                return f"{name} cannot be evaluated: {why}"
        return None


def oracle_view(objects: Sequence[Mapping[str, Any]], namespace: str) -> OracleView:
    """Objects the oracle models; each object it refuses on its own is set aside with the reason."""
    kept: list[dict] = []
    excluded: dict[str, tuple[tuple[str, ...], str]] = {}
    for obj in objects:
        if obj.get("kind") not in ORACLE_KINDS:
            continue
        try:
            build_world([obj], namespace)
        except oracle.OracleError as exc:
            hosts = tuple(
                resolve_host(str(h), _ns(obj) or namespace)
                for h in (obj.get("spec") or {}).get("hosts") or []
            )
            excluded[ref(obj)] = (hosts, str(exc))
            continue
        kept.append(dict(obj))
    try:
        found = oracle.findings(kept, namespace=namespace)
        error = None
    except oracle.OracleError as exc:
        found, error = [], str(exc)
    return OracleView(kept, excluded, found, error)


def diagnoses_for(view: OracleView, refs: Iterable[str], hosts: Iterable[str] = ()) -> list[str]:
    """The oracle's findings about the objects a check looked at (or naming one of its hosts)."""
    refs = set(refs)
    shorts = {h.split(".")[0] for h in hosts}
    out = []
    for f in view.findings:
        mentions = any(f'"{s}' in f.message or f" {h} " in f" {f.message} " for s in shorts for h in hosts)
        if f.object in refs or mentions:
            out.append(f"{f.code} ({f.object}) {f.message}")
    order = {"Error": 0, "Warning": 1, "Info": 2}
    levels = {f"{f.code} ({f.object}) {f.message}": order.get(f.level, 3) for f in view.findings}
    return sorted(dict.fromkeys(out), key=lambda line: levels.get(line, 3))


# ---------------------------------------------------------------------------------------------------------
# Evaluators


def _objects(
    objects: Sequence[Mapping[str, Any]], kind: str, namespace: str | None
) -> list[Mapping[str, Any]]:
    return [o for o in objects if o.get("kind") == kind and (namespace is None or _ns(o) == namespace)]


def _fqdn(host: str, namespace: str) -> str:
    return resolve_host(host, namespace)


def _select(check: Check, objects: Sequence[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], str]:
    p = check.params
    kind = str(p["object"])
    ns = None if kind == "Namespace" else check.namespace
    candidates = _objects(objects, kind, ns)
    if "apiVersion" in p:
        group = str(p["apiVersion"]).rpartition("/")[0]
        candidates = [o for o in candidates if str(o.get("apiVersion", "")).rpartition("/")[0] == group]
    if "name" in p:
        return [
            o for o in candidates if _name(o) == str(p["name"])
        ], f"{kind} {ns + '/' if ns else ''}{p['name']}"
    if "host" in p:
        want = _fqdn(str(p["host"]), check.namespace)
        chosen = []
        for o in candidates:
            spec = o.get("spec") or {}
            hosts = spec.get("hosts") or [] if kind == "VirtualService" else [spec.get("host", "")]
            if any(_fqdn(str(h), _ns(o)) == want for h in hosts):
                chosen.append(o)
        return chosen, f"{kind} for host {p['host']} in {ns}"
    return candidates, f"every {kind} in {ns}"


def _field_ok(op: str, want: Any, found: list[object], namespace: str) -> bool:
    flat: list[object] = []
    for value in found:
        flat.extend(value if isinstance(value, list) else [value])
    if op == "exists":
        return bool(found) == bool(want)
    if op == "equals":
        if isinstance(want, list):
            return len(flat) == len(want) and all(same(a, b) for a, b in zip(flat, want, strict=True))
        return len(found) == 1 and same(found[0], want)
    if op == "any_of":
        return bool(flat) and all(any(same(v, w) for w in want) for v in flat)
    if op == "contains":
        wants = want if isinstance(want, list) else [want]
        return all(any(same(v, w) for v in flat) for w in wants)
    hosts = {_fqdn(str(v), namespace) for v in flat}
    want_hosts = {_fqdn(str(w), namespace) for w in (want if isinstance(want, list) else [want])}
    if op == "host_equals":
        return bool(hosts) and hosts == want_hosts
    return want_hosts <= hosts  # contains_host


def check_object(check: Check, objects: Sequence[Mapping[str, Any]], view: OracleView) -> CheckResult:
    selected, what = _select(check, objects)
    refs = [ref(o) for o in selected] or [what]
    diag = diagnoses_for(view, refs)
    conds = list(check.params.get("fields") or [])
    if not selected:
        return result(check, False, f"{what} exists", "not found", what, diagnoses=diag)
    failed: list[str] = []
    shown: list[str] = []
    for cond in conds:
        op = next(k for k in cond if k != "path")
        path = str(cond["path"])
        per_object = [(o, evaluate(o, path)) for o in selected]
        if op in ("contains", "contains_host"):
            union = [v for _, vals in per_object for v in vals]
            ok = _field_ok(op, cond[op], union, check.namespace)
        else:
            ok = any(_field_ok(op, cond[op], vals, _ns(o) or check.namespace) for o, vals in per_object)
        found = "; ".join(f"{ref(o)} {path} = {_short(vals)}" for o, vals in per_object)
        if not ok:
            failed.append(f"{path} {op} {json.dumps(cond[op])}")
            shown.append(found)
    expected = f"{what}" + (
        ": "
        + ", ".join(
            f"{c['path']} {next(k for k in c if k != 'path')} "
            f"{json.dumps(c[next(k for k in c if k != 'path')])}"
            for c in conds
        )
        if conds
        else " exists"
    )
    if failed:
        return result(check, False, expected, " | ".join(shown), ", ".join(refs), diagnoses=diag)
    return result(check, True, expected, f"{', '.join(refs)} as expected", ", ".join(refs))


def check_namespace_labels(
    check: Check, objects: Sequence[Mapping[str, Any]], view: OracleView
) -> CheckResult:
    ns = check.namespace
    where = f"Namespace {ns} metadata.labels"
    want = {str(k): str(v) for k, v in (check.params.get("labels") or {}).items()}
    expected = ", ".join(f"{k}={v}" for k, v in want.items())
    obj = next((o for o in _objects(objects, "Namespace", None) if _name(o) == ns), None)
    diag = diagnoses_for(view, [f"Namespace {ns}"])
    if obj is None:
        return result(check, False, expected, f"namespace {ns} not found", where, diagnoses=diag)
    labels = (obj.get("metadata") or {}).get("labels") or {}
    ok = all(labels.get(k) == v for k, v in want.items())
    if not ok and check.params.get("accept_revision") and want.get("istio-injection") == "enabled":
        ok = bool(labels.get("istio.io/rev")) and all(
            labels.get(k) == v for k, v in want.items() if k != "istio-injection"
        )
    found = ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "no labels"
    return result(check, ok, expected, found, where, diagnoses=diag)


def has_sidecar(pod: Mapping[str, Any]) -> bool:
    """istio-proxy as a container, or as a native sidecar (init container with restartPolicy Always)."""
    spec = pod.get("spec") or {}
    if any(c.get("name") == PROXY for c in spec.get("containers") or []):
        return True
    return any(
        c.get("name") == PROXY and c.get("restartPolicy") == "Always"
        for c in spec.get("initContainers") or []
    )


def pod_ready(pod: Mapping[str, Any]) -> bool:
    ready, _, total = ready_column(pod).partition("/")
    phase = (pod.get("status") or {}).get("phase")
    return phase == "Running" and int(total) > 0 and ready == total


def check_pods(check: Check, objects: Sequence[Mapping[str, Any]], view: OracleView) -> CheckResult:
    p = check.params
    selector = p.get("selector")
    pods = [
        o
        for o in _objects(objects, "Pod", check.namespace)
        if not (o.get("metadata") or {}).get("deletionTimestamp")
        and matches_selector((o.get("metadata") or {}).get("labels") or {}, selector)
    ]
    what = f"pods {selector or '(all)'} in {check.namespace}"
    want_ready = bool(p.get("ready", True))
    want_injected = bool(p.get("injected", False))
    parts = []
    if "count" in p:
        parts.append(f"{p['count']} pods")
    if "min_count" in p:
        parts.append(f"at least {p['min_count']} pods")
    if want_ready:
        parts.append("all Running and READY n/n")
    if want_injected:
        parts.append("istio-proxy in containers or as a native sidecar")
    expected = f"{what}: " + ", ".join(parts or ["exist"])
    problems = []
    if "count" in p and len(pods) != int(p["count"]):
        problems.append(f"{len(pods)} pods")
    if "min_count" in p and len(pods) < int(p["min_count"]):
        problems.append(f"only {len(pods)} pods")
    if not pods:
        problems.append("no pods")
    bad = []
    for pod in pods:
        issues = []
        if want_ready and not pod_ready(pod):
            issues.append(f"READY {ready_column(pod)} {(pod.get('status') or {}).get('phase')}")
        if want_injected and not has_sidecar(pod):
            issues.append("no istio-proxy")
        if issues:
            bad.append(f"{_name(pod)} ({', '.join(issues)})")
    if bad:
        problems.append("; ".join(sorted(bad)))
    refs = [f"Namespace {check.namespace}", *(f"Pod {check.namespace}/{_name(pod)}" for pod in pods)]
    diag = diagnoses_for(view, refs) if problems else []
    found = "; ".join(problems) if problems else f"{len(pods)} pods as expected"
    return result(check, not problems, expected, found, f"{what} status/spec.containers", diagnoses=diag)


def check_subsets(check: Check, objects: Sequence[Mapping[str, Any]], view: OracleView) -> CheckResult:
    p = check.params
    fqdn = _fqdn(str(p["host"]), check.namespace)
    wanted = [str(s) for s in p["subsets"]]
    select_pods = bool(p.get("select_pods", True))
    drs = [
        o
        for o in _objects(objects, "DestinationRule", None)
        if _fqdn(str((o.get("spec") or {}).get("host", "")), _ns(o)) == fqdn
    ]
    drs.sort(key=lambda o: str((o.get("metadata") or {}).get("creationTimestamp") or ""))
    refs = [ref(o) for o in drs]
    vs_refs = [
        ref(v)
        for v in _objects(objects, "VirtualService", None)
        if fqdn in json.dumps(v.get("spec") or {}) or f'"{p["host"]}"' in json.dumps(v.get("spec") or {})
    ]
    diag = diagnoses_for(view, refs + vs_refs, [fqdn])
    expected = f"DestinationRule for {p['host']} with subsets {', '.join(wanted)}" + (
        " each selecting a running pod" if select_pods else ""
    )
    where = (refs[0] if refs else f"DestinationRule for {p['host']}") + " spec.subsets[*]"
    if not drs:
        return result(check, False, expected, f"no DestinationRule for host {fqdn}", where, diagnoses=diag)
    subsets: dict[str, Mapping[str, str]] = {}
    for dr in drs:
        for s in (dr.get("spec") or {}).get("subsets") or []:
            subsets.setdefault(str(s.get("name")), s.get("labels") or {})
    svc_name, _, rest = fqdn.partition(".")
    svc_ns = rest.split(".")[0] if rest else check.namespace
    service = next((o for o in _objects(objects, "Service", svc_ns) if _name(o) == svc_name), None)
    selector = ((service or {}).get("spec") or {}).get("selector") or {}
    pods = [
        o
        for o in _objects(objects, "Pod", svc_ns)
        if (o.get("status") or {}).get("phase") == "Running"
        and selector
        and all(((o.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in selector.items())
    ]
    problems = []
    for name in wanted:
        if name not in subsets:
            problems.append(f"subset {name} missing")
            continue
        labels = subsets[name]
        if select_pods and not any(
            all(((pod.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in labels.items())
            for pod in pods
        ):
            shown = ",".join(f"{k}={v}" for k, v in labels.items())
            problems.append(f"subset {name} ({shown}) selects no running {svc_name} pod")
    found = "; ".join(problems) if problems else f"subsets {', '.join(sorted(subsets))} in {', '.join(refs)}"
    if problems:
        found += f" (defined: {', '.join(sorted(subsets)) or 'none'})"
    return result(check, not problems, expected, found, where, diagnoses=diag)


def _cpu_target(spec: Mapping[str, Any]) -> object:
    for metric in spec.get("metrics") or []:
        res = metric.get("resource") or {}
        if metric.get("type") == "Resource" and res.get("name") == "cpu":
            target = res.get("target") or {}
            return target.get("averageUtilization")
    return spec.get("targetCPUUtilizationPercentage")


def check_hpa(check: Check, objects: Sequence[Mapping[str, Any]], view: OracleView) -> CheckResult:
    p = check.params
    target = str(p["target"])
    hpas = _objects(objects, "HorizontalPodAutoscaler", check.namespace)
    if "name" in p:
        hpas = [h for h in hpas if _name(h) == str(p["name"])]
    else:
        hpas = [h for h in hpas if ((h.get("spec") or {}).get("scaleTargetRef") or {}).get("name") == target]
    wants = {"min": p.get("min"), "max": p.get("max"), "cpu": p.get("cpu")}
    expected = f"HPA for Deployment {target}: " + ", ".join(
        f"{k} {v}" for k, v in wants.items() if v is not None
    )
    if not hpas:
        return result(
            check,
            False,
            expected,
            f"no HorizontalPodAutoscaler targets {target}",
            f"HorizontalPodAutoscaler {check.namespace}/{p.get('name', target)}",
        )
    hpa = hpas[0]
    spec = hpa.get("spec") or {}
    got = {
        "min": spec.get("minReplicas", 1),
        "max": spec.get("maxReplicas"),
        "cpu": _cpu_target(spec),
    }
    paths = {
        "min": "spec.minReplicas",
        "max": "spec.maxReplicas",
        "cpu": 'spec.metrics[?(@.resource.name=="cpu")].resource.target.averageUtilization',
    }
    wrong = [k for k, v in wants.items() if v is not None and not same(got[k], v)]
    found = ", ".join(f"{k} {got[k]}" for k in wants if wants[k] is not None)
    where = f"{ref(hpa)} " + (", ".join(paths[k] for k in wrong) if wrong else "spec")
    if (spec.get("scaleTargetRef") or {}).get("name") != target:
        wrong.append("target")
        found += f", scaleTargetRef {(spec.get('scaleTargetRef') or {}).get('name')}"
    return result(check, not wrong, expected, found, where)


def _fmt_shares(shares: Mapping[str, float]) -> str:
    return "{" + ", ".join(f"{k}: {round(v, 4):g}" for k, v in sorted(shares.items()) if v) + "}"


def _close(a: Mapping[str, float], b: Mapping[str, float], tol: float = 1e-6) -> bool:
    return all(abs(a.get(k, 0.0) - b.get(k, 0.0)) <= tol for k in set(a) | set(b))


def _vs_refs_for(objects: Sequence[Mapping[str, Any]], fqdn: str) -> list[str]:
    out = []
    for o in _objects(objects, "VirtualService", None):
        hosts = [_fqdn(str(h), _ns(o)) for h in (o.get("spec") or {}).get("hosts") or []]
        if fqdn in hosts:
            out.append(ref(o))
    return out


def check_route(check: Check, objects: Sequence[Mapping[str, Any]], view: OracleView) -> CheckResult:
    p = check.params
    user = p.get("user")
    fqdn = _fqdn("reviews", check.namespace)
    who = f"user {user}" if user else "anonymous users"
    parts = []
    if "expect" in p:
        parts.append(f"reviews for {who} -> {_fmt_shares(p['expect'])}")
    if "mirror" in p:
        parts.append(f"mirrored copies per request {_fmt_shares(p['mirror'])}")
    expected = "; ".join(parts)
    refs = _vs_refs_for(objects, fqdn)
    diag = diagnoses_for(view, refs, [fqdn])
    blind = view.blind_to(fqdn)
    if blind:
        return result(check, False, expected, blind, ", ".join(refs), diagnoses=diag)
    try:
        exp = view.expectation(user, "/productpage", check.namespace, via_gateway=False)
    except oracle.OracleError as exc:
        return result(
            check, False, expected, f"the config cannot be evaluated: {exc}", ", ".join(refs), diagnoses=diag
        )
    ok = True
    found = []
    if "expect" in p:
        ok &= _close(exp.reviews, p["expect"])
        found.append(f"config routes reviews for {who} -> {_fmt_shares(exp.reviews)}")
        if not ok:
            diag = [
                *(f"{f.code} ({f.object}) {f.message}" for f in oracle.compare_intent(exp, p["expect"])),
                *diag,
            ]
    if "mirror" in p:
        mirror_ok = _close(exp.mirror, p["mirror"])
        ok &= mirror_ok
        found.append(f"mirror {_fmt_shares(exp.mirror) if exp.mirror else 'none'}")
    where = exp.reviews_route or ", ".join(refs) or "no VirtualService for reviews"
    return result(
        check,
        ok,
        expected,
        "; ".join(found),
        where,
        diagnoses=diag,
        details={"reviews": exp.reviews, "mirror": exp.mirror},
    )


def check_host_route(check: Check, objects: Sequence[Mapping[str, Any]], view: OracleView) -> CheckResult:
    p = check.params
    fqdn = _fqdn(str(p["host"]), check.namespace)
    subset = str(p["subset"])
    expected = f"mesh traffic to {p['host']} routed to subset {subset} by default"
    refs = _vs_refs_for(objects, fqdn)
    diag = diagnoses_for(view, refs, [fqdn])
    blind = view.blind_to(fqdn)
    if blind:
        return result(check, False, expected, blind, ", ".join(refs), diagnoses=diag)
    try:
        world = build_world(view.objects, check.namespace)
    except oracle.OracleError as exc:
        return result(check, False, expected, f"the config cannot be evaluated: {exc}", "", diagnoses=diag)
    winners = mesh_virtual_services(world, fqdn, check.namespace)
    if not winners:
        return result(
            check, False, expected, f"no mesh VirtualService for {fqdn}", "VirtualService", diagnoses=diag
        )
    vs = winners[0]
    for idx, rule in enumerate(vs.http):
        if not is_catch_all(rule):
            continue
        routes = [
            r for r in rule.get("route") or [] if len(rule.get("route") or []) == 1 or r.get("weight", 0)
        ]
        got = sorted(
            {
                f"{d.get('host')}+{d.get('subset') or '(all pods)'}"
                for d in (r.get("destination") or {} for r in routes)
            }
        )
        ok = bool(routes) and all(
            _fqdn(str((r.get("destination") or {}).get("host", "")), vs.meta.namespace) == fqdn
            and (r.get("destination") or {}).get("subset") == subset
            for r in routes
        )
        where = f"{vs.meta.ref} spec.http[{idx}].route[*].destination"
        return result(check, ok, expected, f"default route goes to {', '.join(got)}", where, diagnoses=diag)
    return result(
        check,
        False,
        expected,
        f"{vs.meta.ref} has no default (match-less) rule",
        f"{vs.meta.ref} spec.http",
        diagnoses=diag,
    )


def check_gateway_route(check: Check, objects: Sequence[Mapping[str, Any]], view: OracleView) -> CheckResult:
    path = str(check.params.get("path", "/productpage"))
    status = int(check.params.get("status", 200))
    expected = f"the ingress gateway routes {path} to productpage (HTTP {status})"
    refs = [ref(o) for o in _objects(objects, "Gateway", None)] + [
        ref(v) for v in _objects(objects, "VirtualService", None) if (v.get("spec") or {}).get("gateways")
    ]
    diag = diagnoses_for(view, refs)
    try:
        exp = view.expectation(None, path, check.namespace)
    except oracle.OracleError as exc:
        return result(
            check, False, expected, f"the config cannot be evaluated: {exc}", ", ".join(refs), diagnoses=diag
        )
    flag = f" {exp.gateway_flag}" if exp.gateway_flag else ""
    found = f"config gives HTTP {exp.gateway_status}{flag} for {path}"
    return result(
        check,
        exp.gateway_status == status,
        expected,
        found,
        ", ".join(r for r in refs if r.startswith("VirtualService")) or "no gateway VirtualService",
        diagnoses=diag,
    )


def check_no_conflict(check: Check, objects: Sequence[Mapping[str, Any]], view: OracleView) -> CheckResult:
    fqdn = _fqdn(str(check.params["host"]), check.namespace)
    codes = [str(c) for c in check.params.get("codes") or ["IST0109"]]
    hits = [f for f in view.findings if f.code in codes and fqdn in f.message]
    refs = _vs_refs_for(objects, fqdn)
    expected = f"one mesh VirtualService for {fqdn} (no {', '.join(codes)})"
    found = f"{len(refs)} VirtualService(s): {', '.join(refs) or 'none'}"
    lines = [f"{f.code} ({f.object}) {f.message}" for f in hits]
    return result(check, bool(refs) and not hits, expected, found, ", ".join(refs), diagnoses=lines)


EVALUATORS = {
    "object": check_object,
    "namespace_labels": check_namespace_labels,
    "pods": check_pods,
    "subsets": check_subsets,
    "hpa": check_hpa,
    "route": check_route,
    "host_route": check_host_route,
    "gateway_route": check_gateway_route,
    "no_conflict": check_no_conflict,
}


def evaluate_config(check: Check, objects: Sequence[Mapping[str, Any]], view: OracleView) -> CheckResult:
    """One config check against the state; never raises for anything the cluster contains."""
    try:
        return EVALUATORS[check.kind](check, objects, view)
    except (KeyError, TypeError, ValueError, AttributeError, oracle.OracleError) as exc:
        return result(check, False, "(see rubric)", f"cannot evaluate: {type(exc).__name__}: {exc}")
