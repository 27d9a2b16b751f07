"""Rubric files: items with points, an optional `required` gate, and atomic weighted checks.

`parse_rubric(text, source=, base_dir=)` turns YAML into a `Rubric` value and refuses anything it does not
understand, naming the file and the key (the published schema is rubrics/rubric.schema.json; the two are
kept in step by tests/grading). `load_rubric(path)` is the only function that reads files: the rubric, and
the scenario files that behaviour checks reuse (their expectation only; nothing of the scenario is applied).

    name: servicemesh
    namespace: default              # where the Bookinfo workloads live
    propagation_wait_s: 5           # before behaviour checks on a cluster (the lab reports when it is synced)
    defaults: {alpha: 1e-7, beta: 1e-7, tolerance: 0.15, leak_tolerance: 0.05, max_requests: 4000}
    items:
    - id: gateway
      title: Ingress gateway
      points: 15
      required: [deploy]            # scores only if item `deploy` earned all its points
      modifies: [VirtualService/bookinfo]   # anti-cheat: must not be deleted and recreated
      checks:
      - {id: gw, kind: object, weight: 4, object: Gateway, name: bookinfo-gateway,
         fields: [{path: "{.spec.selector.istio}", equals: ingressgateway}]}
      - {id: page, kind: http, weight: 4, path: /productpage, status: 200, page_title: Simple Bookstore App}

An item earns `points * (sum of the weights of passed checks) / (sum of all weights)`; config and behaviour
points are the same sum restricted to each category of check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.docreader import DocumentReader
from harness.errors import InputError, ScenarioError
from harness.grading.jsonpath import JsonPathError, parse
from harness.scenario import load_scenario

CONFIG_KINDS = (
    "object",
    "namespace_labels",
    "pods",
    "subsets",
    "hpa",
    "route",
    "host_route",
    "gateway_route",
    "no_conflict",
)
BEHAVIOUR_KINDS = ("http", "traffic", "mirror")
CHECK_KINDS = CONFIG_KINDS + BEHAVIOUR_KINDS
FIELD_OPS = ("equals", "contains", "any_of", "exists", "host_equals", "contains_host")
OBJECT_KINDS = (
    "Namespace",
    "Pod",
    "Service",
    "Deployment",
    "HorizontalPodAutoscaler",
    "Gateway",
    "VirtualService",
    "DestinationRule",
    "ServiceEntry",
    "Sidecar",
)

_COMMON = {"id", "kind", "weight", "title", "advice", "namespace"}
# kind -> (required keys, optional keys)
_PARAMS: dict[str, tuple[set[str], set[str]]] = {
    "object": ({"object"}, {"name", "host", "all", "apiVersion", "fields"}),
    "namespace_labels": ({"labels"}, {"accept_revision"}),
    "pods": (set(), {"selector", "count", "min_count", "ready", "injected"}),
    "subsets": ({"host", "subsets"}, {"select_pods"}),
    "hpa": ({"target"}, {"name", "min", "max", "cpu"}),
    "route": (set(), {"user", "expect", "mirror"}),
    "host_route": ({"host", "subset"}, set()),
    "gateway_route": (set(), {"path", "status"}),
    "no_conflict": ({"host"}, {"codes"}),
    "http": ({"path"}, {"status", "page_title"}),
    "traffic": (
        set(),
        {"scenario", "probe", "user", "path", "expect", "tolerance", "alpha", "beta", "leak_tolerance"}
        | {"max_requests", "concurrency"},
    ),
    "mirror": (set(), {"scenario", "workload", "share", "requests", "tolerance", "alpha", "beta"}),
}
_TOP = {"name", "title", "description", "namespace", "propagation_wait_s", "defaults", "items", "$schema"}
_ITEM = {"id", "title", "points", "required", "checks", "creates", "modifies", "description"}
# The statistical settings of a behaviour check, as (low, high, whole number): a rubric's `defaults` and each
# check read them with the same bounds.
_SETTINGS: dict[str, tuple[float, float, bool]] = {
    "tolerance": (1e-12, 0.5, False),
    "alpha": (1e-12, 0.5, False),
    "beta": (1e-12, 0.5, False),
    "leak_tolerance": (1e-12, 0.5, False),
    "max_requests": (1, 1e7, True),
    "concurrency": (1, 1024, True),
}
_DEFAULTS = set(_SETTINGS)


@dataclass(frozen=True)
class Defaults:
    """Statistical settings for behaviour checks: a false FAIL has probability at most alpha (1e-7)."""

    alpha: float = 1e-7
    beta: float = 1e-7
    tolerance: float = 0.15
    leak_tolerance: float = 0.05
    max_requests: int = 4000
    concurrency: int = 8


@dataclass(frozen=True)
class Check:
    id: str
    kind: str
    weight: float
    params: Mapping[str, Any]
    namespace: str
    title: str = ""
    advice: str = ""

    @property
    def category(self) -> str:
        return "behaviour" if self.kind in BEHAVIOUR_KINDS else "config"


@dataclass(frozen=True)
class Item:
    id: str
    title: str
    points: float
    checks: tuple[Check, ...]
    required: tuple[str, ...] = ()
    creates: tuple[tuple[str, str, str], ...] = ()  # (kind, namespace, name)
    modifies: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class Rubric:
    name: str
    title: str
    namespace: str
    items: tuple[Item, ...]
    defaults: Defaults = field(default_factory=Defaults)
    propagation_wait_s: float = 5.0
    source: str = "<rubric>"

    @property
    def total_points(self) -> float:
        return sum(i.points for i in self.items)

    def namespaces(self) -> list[str]:
        """Every namespace a check reads, plus istio-system (the ingress gateway's pods)."""
        found = {self.namespace, "istio-system"}
        for item in self.items:
            found.update(c.namespace for c in item.checks)
            found.update(ns for _, ns, _ in item.creates + item.modifies if ns)
        return sorted(found)

    def has_behaviour(self) -> bool:
        return any(c.category == "behaviour" for i in self.items for c in i.checks)


class _Reader(DocumentReader):
    def shares(self, value: object, where: str) -> dict[str, float]:
        data = self.mapping(value, where, None)
        out = {str(k): self.number(v, f"{where}.{k}", low=0.0, high=1.0) for k, v in data.items()}
        if not out:
            raise self.fail(where, "expected at least one share")
        return out

    def refs(self, value: object, where: str, namespace: str) -> tuple[tuple[str, str, str], ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail(where, 'expected a list of "Kind/name" or "Kind/namespace/name"')
        out = []
        for index, entry in enumerate(value):
            parts = str(entry).split("/")
            if len(parts) not in (2, 3) or not all(parts) or parts[0] not in OBJECT_KINDS:
                raise self.fail(f"{where}[{index}]", f'{entry!r} is not "Kind/name" with a known Kind')
            kind, ns, name = (parts[0], namespace, parts[1]) if len(parts) == 2 else tuple(parts)
            out.append((kind, "" if kind == "Namespace" else ns, name))
        return tuple(out)


def _check(r: _Reader, raw: object, where: str, namespace: str, defaults: Defaults) -> Check:
    if not isinstance(raw, Mapping):
        raise r.fail(where, "a check must be a mapping")
    kind = raw.get("kind")
    if kind not in _PARAMS:
        raise r.fail(f"{where}.kind", f"unknown check kind {kind!r} (known: {', '.join(CHECK_KINDS)})")
    required, optional = _PARAMS[kind]
    data = r.mapping(raw, where, _COMMON | required | optional)
    missing = sorted(required - set(data))
    if missing:
        raise r.fail(where, f"a {kind} check needs {missing[0]!r}")
    check_id = r.text(data.get("id"), f"{where}.id")
    weight = r.number(data.get("weight", 1), f"{where}.weight", low=0.0, high=1e6)
    params = {k: v for k, v in data.items() if k not in _COMMON}
    spot = f"{where} ({check_id})"
    if kind == "object":
        if data["object"] not in OBJECT_KINDS:
            raise r.fail(f"{spot}.object", f"unknown kind {data['object']!r}")
        if sum(k in data for k in ("name", "host", "all")) != 1:
            raise r.fail(spot, "select the object(s) with exactly one of name, host or all")
        if "host" in data and data["object"] not in ("VirtualService", "DestinationRule"):
            raise r.fail(spot, "host selects VirtualServices or DestinationRules only")
        fields = data.get("fields") or []
        if not isinstance(fields, list):
            raise r.fail(f"{spot}.fields", "expected a list of {path, <operator>: value}")
        for i, cond in enumerate(fields):
            cwhere = f"{spot}.fields[{i}]"
            cond = r.mapping(cond, cwhere, {"path", *FIELD_OPS})
            ops = [op for op in FIELD_OPS if op in cond]
            if len(ops) != 1:
                raise r.fail(cwhere, f"needs a path and exactly one of {', '.join(FIELD_OPS)}")
            try:
                parse(r.text(cond.get("path"), f"{cwhere}.path"), f"{cwhere}.path")
            except JsonPathError as exc:
                raise r.fail(cwhere, str(exc)) from None
            if ops[0] == "any_of" and not isinstance(cond["any_of"], list):
                raise r.fail(cwhere, "any_of needs a list")
    elif kind == "namespace_labels":
        r.mapping(data["labels"], f"{spot}.labels", None)
    elif kind in ("traffic", "mirror"):
        params = _behaviour_params(r, kind, params, spot, defaults)
    elif kind == "route":
        if "expect" not in data and "mirror" not in data:
            raise r.fail(spot, "a route check needs expect and/or mirror")
        for key in ("expect", "mirror"):
            if key in data:
                params[key] = r.shares(data[key], f"{spot}.{key}")
    elif kind == "subsets" and not isinstance(data["subsets"], list):
        raise r.fail(f"{spot}.subsets", "expected a list of subset names")
    return Check(
        id=check_id,
        kind=str(kind),
        weight=weight,
        params=params,
        namespace=str(data.get("namespace") or namespace),
        title=str(data.get("title") or ""),
        advice=str(data.get("advice") or ""),
    )


def _behaviour_params(
    r: _Reader, kind: str, params: dict[str, Any], where: str, defaults: Defaults
) -> dict[str, Any]:
    """Resolve a reused scenario's expectation into plain parameters (the scenario is only read)."""
    out = dict(params)
    scenario = None
    if "scenario" in params:
        path = Path(str(params["scenario"]))
        path = path if path.is_absolute() else r.base_dir / path
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:
            raise r.fail(f"{where}.scenario", str(exc)) from None
    if kind == "traffic":
        if scenario is not None:
            probes = [p for p in scenario.probes if p.reviews is not None]
            if "probe" in params:
                probes = [p for p in probes if p.name == params["probe"]]
            if not probes:
                raise r.fail(f"{where}.probe", f"scenario {scenario.name} has no such probe with reviews")
            probe = probes[0]
            out.setdefault("user", probe.traffic.user)
            out.setdefault("path", probe.traffic.path)
            out.setdefault("expect", dict(probe.reviews or {}))
            out["scenario"] = scenario.name
        if "expect" not in out:
            raise r.fail(where, "a traffic check needs expect (or a scenario to take it from)")
        out["expect"] = r.shares(out["expect"], f"{where}.expect")
        out.setdefault("path", "/productpage")
        out.setdefault("user", None)
    else:
        if scenario is not None:
            if not scenario.mirror:
                raise r.fail(f"{where}.scenario", f"scenario {scenario.name} expects no mirroring")
            workload, share = next(iter(scenario.mirror.items()))
            out.setdefault("workload", workload)
            out.setdefault("share", share)
            out["scenario"] = scenario.name
        if "workload" not in out or "share" not in out:
            raise r.fail(where, "a mirror check needs workload and share (or a scenario)")
        out["share"] = r.number(out["share"], f"{where}.share", low=0.0, high=1.0)
        out["requests"] = int(r.number(out.get("requests", 300), f"{where}.requests", low=10, high=1e6))
    for key in _SETTINGS:
        out[key] = _setting(r, key, out.get(key, getattr(defaults, key)), f"{where}.{key}")
    return out


def _setting(r: _Reader, key: str, value: object, where: str) -> float | int:
    low, high, whole = _SETTINGS[key]
    number = r.number(value, where, low=low, high=high)
    return int(number) if whole else number


def parse_rubric(text: str, *, source: str = "<rubric>", base_dir: Path = Path(".")) -> Rubric:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{source}: malformed YAML: {exc}") from None
    r = _Reader(source, base_dir)
    data = r.mapping(raw, "top level", _TOP)
    name = r.text(data.get("name"), "name")
    namespace = str(data.get("namespace") or "default")
    draw = r.mapping(data.get("defaults") or {}, "defaults", _DEFAULTS)
    settings: dict[str, Any] = {k: _setting(r, k, v, f"defaults.{k}") for k, v in draw.items()}
    defaults = Defaults(**settings)
    items_raw = data.get("items")
    if not isinstance(items_raw, list) or not items_raw:
        raise r.fail("items", "expected a non-empty list of items")
    items: list[Item] = []
    seen: set[str] = set()
    for index, entry in enumerate(items_raw):
        where = f"items[{index}]"
        idata = r.mapping(entry, where, _ITEM)
        item_id = r.text(idata.get("id"), f"{where}.id")
        if item_id in seen:
            raise r.fail(f"{where}.id", f"duplicate item id {item_id!r}")
        seen.add(item_id)
        checks_raw = idata.get("checks")
        if not isinstance(checks_raw, list) or not checks_raw:
            raise r.fail(f"{where}.checks", "expected a non-empty list of checks")
        checks = tuple(
            _check(r, c, f"{where}.checks[{i}]", namespace, defaults) for i, c in enumerate(checks_raw)
        )
        ids = [c.id for c in checks]
        if len(set(ids)) != len(ids):
            raise r.fail(f"{where}.checks", "check ids must be unique within an item")
        if sum(c.weight for c in checks) <= 0:
            raise r.fail(f"{where}.checks", "the weights sum to 0")
        required = idata.get("required") or []
        if not isinstance(required, list) or not all(isinstance(x, str) for x in required):
            raise r.fail(f"{where}.required", "expected a list of item ids")
        items.append(
            Item(
                id=item_id,
                title=str(idata.get("title") or item_id),
                points=r.number(idata.get("points"), f"{where}.points", low=0.0, high=1e6),
                checks=checks,
                required=tuple(required),
                creates=r.refs(idata.get("creates"), f"{where}.creates", namespace),
                modifies=r.refs(idata.get("modifies"), f"{where}.modifies", namespace),
            )
        )
    _check_gates(r, items)
    return Rubric(
        name=name,
        title=str(data.get("title") or name),
        namespace=namespace,
        items=tuple(items),
        defaults=defaults,
        propagation_wait_s=r.number(data.get("propagation_wait_s", 5), "propagation_wait_s", low=0, high=600),
        source=source,
    )


def _check_gates(r: _Reader, items: Sequence[Item]) -> None:
    ids = {i.id for i in items}
    for item in items:
        for dep in item.required:
            if dep not in ids:
                raise r.fail(f"item {item.id}.required", f"no item {dep!r}")
    # cycles: a gate must be decidable
    state: dict[str, int] = {}
    by_id = {i.id: i for i in items}

    def visit(node: str, trail: tuple[str, ...]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            raise r.fail("required", f"gates form a cycle: {' -> '.join((*trail, node))}")
        state[node] = 1
        for dep in by_id[node].required:
            visit(dep, (*trail, node))
        state[node] = 2

    for item in items:
        visit(item.id, ())


def load_rubric(path: Path) -> Rubric:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(f"{path}: cannot read rubric: {exc.strerror or exc}") from None
    return parse_rubric(text, source=str(path), base_dir=path.resolve().parent)
