"""Config findings in the style of `istioctl analyze`, and the check of a scenario's stated intent.

Pure. Codes and messages follow istioctl's analyzers (IST01xx) where one exists; HARNESS0xx are the
harness's own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.oracle._expect import Expectation
from harness.oracle._objects import (
    INJECT_KEY,
    SYSTEM_NAMESPACES,
    Gateway,
    OracleError,
    VirtualService,
    World,
    as_list,
    as_map,
    build_world,
    fmt_labels,
    labels_select,
    resolve_host,
)
from harness.oracle._routes import (
    Proxy,
    find_subset,
    gateway_applies,
    is_catch_all,
    mesh_virtual_services,
    resolve_destination,
    vs_hosts_in_server,
)

ERROR, WARNING, INFO = "Error", "Warning", "Info"


@dataclass(frozen=True, slots=True)
class Finding:
    """One diagnostic: istioctl-style code and level, the object it is about, and a message."""

    code: str
    level: str  # "Error" | "Warning" | "Info"
    object: str  # "VirtualService default/reviews"
    message: str

    def __str__(self) -> str:
        return f"{self.level} [{self.code}] ({self.object}) {self.message}"

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "level": self.level, "object": self.object, "message": self.message}


def _destinations(vs: VirtualService) -> Iterable[tuple[int, Mapping[str, Any], bool]]:
    """(rule index, destination, is_mirror) for every destination a VS names."""
    for idx, rule in enumerate(vs.http):
        for d in as_list(rule.get("route"), "route"):
            yield idx, as_map(as_map(d, "route").get("destination"), "destination"), False
        if "mirror" in rule:
            yield idx, as_map(rule["mirror"], "mirror"), True
        for m in as_list(rule.get("mirrors"), "mirrors"):
            yield idx, as_map(as_map(m, "mirrors").get("destination"), "destination"), True


def _reference_findings(world: World, vs: VirtualService) -> list[Finding]:
    out: list[Finding] = []
    ref = vs.meta.ref
    for written in vs.gateways_written:
        resolved = written if written == "mesh" or "/" in written else f"{vs.meta.namespace}/{written}"
        if resolved == "mesh":
            continue
        gw = world.gateways.get(resolved)
        if gw is None:
            out.append(Finding("IST0101", ERROR, ref, f'Referenced gateway not found: "{written}"'))
            continue
        missing = [h for h in vs.hosts if not _host_in_gateway(vs, h, gw)]
        if missing:
            out.append(
                Finding(
                    "IST0132",
                    WARNING,
                    ref,
                    f"one or more host [{' '.join(missing)}] defined in "
                    f"VirtualService {vs.meta.namespace}/{vs.meta.name} not found in Gateway "
                    f"{gw.key}.",
                )
            )
    for _idx, dest, mirror in _destinations(vs):
        host = str(dest.get("host", ""))
        fqdn = resolve_host(host, vs.meta.namespace)
        what = "mirror " if mirror else ""
        if fqdn.startswith("*"):
            continue
        if fqdn not in world.services:
            out.append(Finding("IST0101", ERROR, ref, f'Referenced {what}host not found: "{host}"'))
            continue
        subset = dest.get("subset")
        if subset is None:
            continue
        found = find_subset(world, fqdn, str(subset), vs.meta.namespace)
        if found is None:
            kind = "mirror+subset" if mirror else "host+subset"
            out.append(
                Finding(
                    "IST0101",
                    ERROR,
                    ref,
                    f'Referenced {kind} in destinationrule not found: "{host}+{subset}"',
                )
            )
            continue
        if re.fullmatch(r"v\d+", str(subset)):
            proxy = Proxy(vs.meta.namespace, {}, True)
            pods, _flag, _label = resolve_destination(world, proxy, dest, vs.meta.namespace, ref)
            wrong = sorted({p.version for p in pods} - {str(subset)})
            if wrong:
                out.append(
                    Finding(
                        "HARNESS002",
                        WARNING,
                        ref,
                        f'{what}destination "{host}+{subset}" selects pods '
                        f"labelled version={','.join(wrong)} "
                        f"(DestinationRule labels {fmt_labels(found[0].labels)}): the weights land on "
                        f"other versions than the subset names say",
                    )
                )
    return out


def _host_in_gateway(vs: VirtualService, host: str, gw: Gateway) -> bool:
    single = VirtualService(vs.meta, (host,), vs.gateways, vs.gateways_written, vs.http, vs.export_to)
    return any(vs_hosts_in_server(single, server, gw.meta.namespace) for server in gw.servers)


def _rule_findings(vs: VirtualService) -> list[Finding]:
    out: list[Finding] = []
    catch_all: int | None = None
    seen: dict[str, tuple[int, int]] = {}
    for idx, rule in enumerate(vs.http):
        if catch_all is not None:
            out.append(
                Finding(
                    "IST0130",
                    WARNING,
                    vs.meta.ref,
                    f"VirtualService rule http[{idx}] not used (only "
                    f"the last rule can have no matches; http[{catch_all}] matches everything).",
                )
            )
            continue
        for midx, block in enumerate(as_list(rule.get("match"), "match")):
            key = json.dumps(block, sort_keys=True, default=str)
            if key in seen:
                r, m = seen[key]
                out.append(
                    Finding(
                        "IST0131",
                        INFO,
                        vs.meta.ref,
                        f"VirtualService rule http[{idx}] match[{midx}] "
                        f"not used (duplicate/overlapping match in rule http[{r}] match[{m}]).",
                    )
                )
            else:
                seen[key] = (idx, midx)
        if is_catch_all(rule):
            catch_all = idx
    return out


def _conflict_findings(world: World, namespace: str) -> list[Finding]:
    out: list[Finding] = []
    hosts = sorted(
        {h for v in world.virtual_services if v.binds_mesh for h in v.fqdn_hosts if not h.startswith("*")}
    )
    for host in hosts:
        claimants = [v for v in mesh_virtual_services(world, host, namespace) if host in v.fqdn_hosts]
        if len(claimants) < 2:
            continue
        names = ",".join(f"{v.meta.namespace}/{v.meta.name}" for v in claimants)
        for v in claimants:
            if v.meta.namespace != namespace:
                continue
            out.append(
                Finding(
                    "IST0109",
                    ERROR,
                    v.meta.ref,
                    f"The VirtualServices {names} associated with mesh "
                    f"gateway define the same host {host} which can lead to undefined behavior. This "
                    f"can be fixed by merging the conflicting VirtualServices into a single resource. "
                    f"(Sidecars keep the oldest: {claimants[0].meta.namespace}/"
                    f"{claimants[0].meta.name}.)",
                )
            )
    return out


def _ingress_findings(world: World, vs: VirtualService) -> list[Finding]:
    """IST0140: the gateway sends a host to all its pods while a mesh VS restricts it to subsets."""
    if vs.binds_mesh:
        return []
    out: list[Finding] = []
    for _idx, dest, mirror in _destinations(vs):
        if mirror or dest.get("subset"):
            continue
        fqdn = resolve_host(str(dest.get("host", "")), vs.meta.namespace)
        service = world.services.get(fqdn)
        if service is None:
            continue
        endpoints = {p.name for p in world.endpoints(service)}
        for mesh_vs in mesh_virtual_services(world, fqdn, vs.meta.namespace)[:1]:
            reachable: set[str] = set()
            uses_subsets = False
            for _i, mdest, _m in _destinations(mesh_vs):
                if resolve_host(str(mdest.get("host", "")), mesh_vs.meta.namespace) != fqdn:
                    continue
                uses_subsets |= bool(mdest.get("subset"))
                pods, _f, _l = resolve_destination(
                    world, Proxy(vs.meta.namespace, {}, True), mdest, mesh_vs.meta.namespace, mesh_vs.meta.ref
                )
                reachable |= {p.name for p in pods}
            if uses_subsets and reachable != endpoints:
                gws = ",".join(g for g in vs.gateways if g != "mesh")
                out.append(
                    Finding(
                        "IST0140",
                        WARNING,
                        mesh_vs.meta.ref,
                        f"Subset in virtual service "
                        f"{mesh_vs.meta.namespace}/{mesh_vs.meta.name} has no effect on ingress gateway "
                        f"{gws} requests (the gateway route in {vs.meta.ref} spreads over all "
                        f"{len(endpoints)} endpoints)",
                    )
                )
    return out


def _subset_findings(world: World, namespace: str) -> list[Finding]:
    out: list[Finding] = []
    for dr in world.destination_rules:
        if dr.meta.namespace != namespace:
            continue
        service = world.services.get(dr.fqdn_host)
        if service is None or not any(p.namespace == service.meta.namespace for p in world.pods):
            continue  # no workloads given for that namespace: nothing to judge against
        pods = (
            [
                p
                for p in world.pods
                if p.namespace == service.meta.namespace and labels_select(service.selector, p.labels)
            ]
            if service.selector
            else []
        )
        for s in dr.subsets:
            if not any(labels_select(s.labels, p.labels) for p in pods):
                out.append(
                    Finding(
                        "IST0173",
                        WARNING,
                        dr.meta.ref,
                        f"The Subset {s.name} defined in the "
                        f"DestinationRule does not select any pods, which may lead to 503 UH "
                        f"(NoHealthyUpstream).",
                    )
                )
    return out


def _injection_findings(world: World, namespace: str) -> list[Finding]:
    out: list[Finding] = []
    if namespace in SYSTEM_NAMESPACES or namespace not in world.workload_namespaces:
        return out
    labels = world.namespaces.get(namespace, {})
    if "istio-injection" not in labels and "istio.io/rev" not in labels:
        out.append(
            Finding(
                "IST0102",
                INFO,
                f"Namespace {namespace}",
                f"The namespace is not enabled for Istio "
                f"injection. Run 'kubectl label namespace {namespace} istio-injection=enabled' to enable "
                f"it, or 'kubectl label namespace {namespace} istio-injection=disabled' to explicitly "
                f"mark it as not needing injection.",
            )
        )
    elif labels.get("istio-injection") != "disabled":
        for p in world.pods:
            if (
                p.real
                and p.namespace == namespace
                and not p.sidecar
                and p.labels.get(INJECT_KEY, "").lower() != "false"
            ):
                out.append(
                    Finding(
                        "IST0103",
                        WARNING,
                        f"Pod {namespace}/{p.name}",
                        f"The pod {namespace}/{p.name} "
                        f"is missing the Istio proxy. This can often be resolved by restarting or "
                        f"redeploying the workload.",
                    )
                )
    return out


def findings(objects: Iterable[object], *, namespace: str = "default") -> list[Finding]:
    """Analyzer-style diagnostics for the objects in `namespace` (references resolve across all objects)."""
    world = build_world(objects, namespace)
    out: list[Finding] = []
    for gw in world.gateways.values():
        if gw.meta.namespace == namespace and not gateway_applies(world, gw):
            out.append(
                Finding(
                    "IST0101",
                    ERROR,
                    gw.meta.ref,
                    f'Referenced selector not found: "{fmt_labels(gw.selector)}"',
                )
            )
    for vs in world.virtual_services:
        if vs.meta.namespace != namespace:
            continue
        out.extend(_reference_findings(world, vs))
        out.extend(_rule_findings(vs))
        out.extend(_ingress_findings(world, vs))
    out.extend(_conflict_findings(world, namespace))
    out.extend(_subset_findings(world, namespace))
    out.extend(_injection_findings(world, namespace))
    return sorted(set(out), key=lambda f: (f.code, f.object, f.message))


def _fmt_split(split: Mapping[str, float]) -> str:
    return json.dumps({k: round(v, 6) for k, v in sorted(split.items()) if v}, separators=(", ", ": "))


def compare_intent(
    expectation: Expectation, intent_reviews: Mapping[str, float], *, tolerance: float = 1e-9
) -> list[Finding]:
    """HARNESS001 when the split the config produces differs from the scenario's intent in any version.

    The config is deterministic, so the tolerance is only for float rounding (default 1e-9); intent values are
    fractions of reviews requests (0..1).
    """
    if any(v < 0 for v in intent_reviews.values()) or sum(intent_reviews.values()) > 1 + tolerance:
        raise OracleError(
            f"intent {dict(intent_reviews)} must be fractions of requests that sum to at most 1"
        )
    versions = set(expectation.reviews) | set(intent_reviews)
    if all(abs(expectation.reviews.get(v, 0.0) - intent_reviews.get(v, 0.0)) <= tolerance for v in versions):
        return []
    return [
        Finding(
            "HARNESS001",
            ERROR,
            expectation.reviews_route or "reviews",
            f"config routes reviews {_fmt_split(expectation.reviews)} but the scenario expects "
            f"{_fmt_split(intent_reviews)}",
        )
    ]
