"""Scenario files: what to apply, what traffic to send, what the mesh must show.

Pure: `parse_scenario` turns YAML text into a `Scenario` value and refuses anything it does not understand,
naming the file and the key. `load_scenario` is the one function that reads a file.

The flat form is the contract (see README):

    name: reviews-50-50
    description: half of the reviews traffic goes to v3
    setup: [...]          # files applied first to reach the step's starting state (not under test)
    apply: [...]          # the change under test; strings (paths) or {file, inject, selector}
    delete: []            # objects to remove first ("Kind/name") or files
    traffic: {path: /productpage, user: null, concurrency: 8, max_requests: 5000}
    expect:
      reviews: {v1: 0.5, v3: 0.5}
      mirror: {reviews-v2: 1.0}
      pages: {ok: 1.0}
    tolerance: 0.1

`probes:` (a list of {name, traffic, expect}) replaces traffic/expect.reviews/pages when one step needs
several request classes (jason and anonymous).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from harness.docreader import DocumentReader
from harness.errors import InputError, ScenarioError
from harness.manifests import KNOWN_KINDS, load_manifest_file, yaml_problem

VERSIONS = ("v1", "v2", "v3")
PAGE_STATES = ("ok", "ratings-unavailable", "reviews-error", "details-error", "mesh-error", "not-bookinfo")
DEFAULT_ALPHA = 0.001
DEFAULT_BETA = 0.001
DEFAULT_TOLERANCE = 0.1


@dataclass(frozen=True)
class ApplyItem:
    path: Path
    inject: bool = False  # pipe through `bookinfo-harness inject` (istioctl kube-inject) first
    selector: str | None = None  # kubectl apply -l: only objects whose labels match


@dataclass(frozen=True)
class Traffic:
    path: str = "/productpage"
    user: str | None = None  # log in as this user first (POST /login)
    concurrency: int = 8
    max_requests: int = 5000
    rate_rps: float | None = None
    time_budget_s: float = 120.0
    fresh_connections: bool = False


@dataclass(frozen=True)
class Probe:
    name: str
    traffic: Traffic
    reviews: Mapping[str, float] | None = None
    pages: Mapping[str, float] | None = None


@dataclass(frozen=True)
class PodCheck:
    selector: str | None = None  # label selector; None = every pod in the namespace
    ready: str | None = None  # "2/2": every selected pod shows this READY column
    count: int | None = None


@dataclass(frozen=True)
class ObjectCheck:
    kind: str
    name: str
    fields: Mapping[str, object] = field(default_factory=dict)  # dotted path -> expected value


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    path: Path | None
    setup: tuple[ApplyItem, ...] = ()
    apply: tuple[ApplyItem, ...] = ()
    delete: tuple[str, ...] = ()
    probes: tuple[Probe, ...] = ()
    mirror: Mapping[str, float] | None = None
    pods: tuple[PodCheck, ...] = ()
    routes: Mapping[str, int] | None = None  # gateway path -> expected status
    objects: tuple[ObjectCheck, ...] = ()
    namespace: str = "default"
    tolerance: float = DEFAULT_TOLERANCE
    leak_tolerance: float | None = None  # for versions expected at 0; None = tolerance
    alpha: float = DEFAULT_ALPHA
    beta: float = DEFAULT_BETA

    @property
    def intent_reviews(self) -> Mapping[str, float] | None:
        """The split stated for anonymous /productpage traffic (what the oracle is checked against)."""
        for probe in self.probes:
            if probe.traffic.user is None and probe.reviews is not None:
                return probe.reviews
        return None


_TOP_KEYS = {
    "name",
    "description",
    "setup",
    "apply",
    "delete",
    "traffic",
    "expect",
    "probes",
    "tolerance",
    "alpha",
    "beta",
    "namespace",
    "leak_tolerance",
}
_EXPECT_KEYS = {"reviews", "mirror", "pages", "pods", "routes", "objects"}
_TRAFFIC_KEYS = {
    "path",
    "user",
    "concurrency",
    "max_requests",
    "rate_rps",
    "time_budget_s",
    "fresh_connections",
}


class _Reader(DocumentReader):
    error = ScenarioError
    none_is_empty = True

    def shares(self, value: object, where: str, allowed: tuple[str, ...] | None) -> dict[str, float]:
        data = self.mapping(value, where, set(allowed) if allowed else None)
        shares = {str(k): self.number(v, f"{where}.{k}", low=0.0, high=1.0) for k, v in data.items()}
        total = sum(shares.values())
        if allowed is not None and abs(total - 1.0) > 1e-6:
            raise self.fail(where, f"shares sum to {total:g}, not 1")
        return shares

    def apply_items(self, value: object, where: str) -> tuple[ApplyItem, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail(where, "expected a list of files")
        items = []
        for index, entry in enumerate(value):
            spot = f"{where}[{index}]"
            if isinstance(entry, str):
                entry = {"file": entry}
            data = self.mapping(entry, spot, {"file", "inject", "selector"})
            file = data.get("file")
            if not isinstance(file, str):
                raise self.fail(spot, "needs a file path")
            path = Path(file)
            path = path if path.is_absolute() else (self.base_dir / path)
            if not path.is_file():
                raise self.fail(spot, f"file {data['file']!r} not found (looked at {path})")
            selector = data.get("selector")
            items.append(
                ApplyItem(
                    path.resolve(), bool(data.get("inject", False)), str(selector) if selector else None
                )
            )
        return tuple(items)

    def traffic(self, value: object, where: str) -> Traffic:
        data = self.mapping(value, where, _TRAFFIC_KEYS)
        kwargs: dict[str, object] = {}
        if "path" in data:
            if not isinstance(data["path"], str) or not data["path"].startswith("/"):
                raise self.fail(f"{where}.path", "must start with /")
            kwargs["path"] = data["path"]
        if data.get("user") is not None:
            kwargs["user"] = str(data["user"])
        for key, low, high in (("concurrency", 1, 1024), ("max_requests", 1, 10_000_000)):
            if key in data:
                kwargs[key] = int(self.number(data[key], f"{where}.{key}", low=low, high=high))
        for key, floor, ceiling in (("rate_rps", 0.001, 1e6), ("time_budget_s", 0.1, 86400.0)):
            if data.get(key) is not None:
                kwargs[key] = self.number(data[key], f"{where}.{key}", low=floor, high=ceiling)
        if "fresh_connections" in data:
            kwargs["fresh_connections"] = bool(data["fresh_connections"])
        return Traffic(**kwargs)  # type: ignore[arg-type]


def parse_scenario(text: str, *, source: str = "<scenario>", base_dir: Path = Path(".")) -> Scenario:
    try:
        raw = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "parse"
        raise ScenarioError(f"{source}: {where}: malformed YAML: {yaml_problem(exc)}") from None
    r = _Reader(source, base_dir)
    data = r.mapping(raw, "top level", _TOP_KEYS)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise r.fail("name", "a scenario needs a name")
    expect = r.mapping(data.get("expect"), "expect", _EXPECT_KEYS)
    probes: list[Probe] = []
    if "probes" in data:
        if "traffic" in data or "reviews" in expect or "pages" in expect:
            raise r.fail("probes", "use either probes or traffic + expect.reviews/pages, not both")
        if not isinstance(data["probes"], list) or not data["probes"]:
            raise r.fail("probes", "expected a non-empty list")
        for index, entry in enumerate(data["probes"]):
            spot = f"probes[{index}]"
            pdata = r.mapping(entry, spot, {"name", "traffic", "expect"})
            pexpect = r.mapping(pdata.get("expect"), f"{spot}.expect", {"reviews", "pages"})
            probes.append(
                _probe(r, str(pdata.get("name") or f"probe-{index + 1}"), pdata.get("traffic"), pexpect, spot)
            )
    elif "traffic" in data or "reviews" in expect or "pages" in expect:
        probes.append(_probe(r, "traffic", data.get("traffic"), expect, "traffic"))
    delete = data.get("delete") or []
    if not isinstance(delete, list) or not all(isinstance(d, str) for d in delete):
        raise r.fail("delete", 'expected a list of "Kind/name" strings or files')
    for index, item in enumerate(delete):
        kind, _, obj_name = item.partition("/")
        if kind not in KNOWN_KINDS or not obj_name:
            raise r.fail(
                f"delete[{index}]",
                f'{item!r} is not "Kind/name" with a known kind ({", ".join(KNOWN_KINDS)})',
            )
    pods = tuple(
        _pod_check(r, entry, f"expect.pods[{i}]")
        for i, entry in enumerate(r.sequence(expect.get("pods"), "expect.pods"))
    )
    routes = None
    if "routes" in expect:
        routes_raw = r.mapping(expect["routes"], "expect.routes", None)
        routes = {
            str(k): int(r.number(v, f"expect.routes.{k}", low=100, high=599)) for k, v in routes_raw.items()
        }
    objects = tuple(
        _object_check(r, e, f"expect.objects[{i}]")
        for i, e in enumerate(r.sequence(expect.get("objects"), "expect.objects"))
    )
    mirror = r.shares(expect["mirror"], "expect.mirror", None) if "mirror" in expect else None
    if mirror is not None and not probes:
        raise r.fail("expect.mirror", "a mirror expectation needs traffic")
    scenario = Scenario(
        name=name,
        description=str(data.get("description") or ""),
        path=None,
        setup=r.apply_items(data.get("setup"), "setup"),
        apply=r.apply_items(data.get("apply"), "apply"),
        delete=tuple(delete),
        probes=tuple(probes),
        mirror=mirror,
        pods=pods,
        routes=routes,
        objects=objects,
        namespace=str(data.get("namespace") or "default"),
        tolerance=r.number(data.get("tolerance", DEFAULT_TOLERANCE), "tolerance", low=1e-4, high=0.5),
        leak_tolerance=(
            r.number(data["leak_tolerance"], "leak_tolerance", low=1e-5, high=0.5)
            if data.get("leak_tolerance") is not None
            else None
        ),
        alpha=r.number(data.get("alpha", DEFAULT_ALPHA), "alpha", low=1e-9, high=0.2),
        beta=r.number(data.get("beta", DEFAULT_BETA), "beta", low=1e-9, high=0.5),
    )
    if not (scenario.probes or scenario.pods or scenario.routes or scenario.objects):
        raise r.fail("expect", "the scenario checks nothing (no traffic, pods, routes or objects)")
    return scenario


def _probe(r: _Reader, name: str, traffic: object, expect: Mapping[str, object], where: str) -> Probe:
    reviews = (
        r.shares(expect["reviews"], f"{where}.expect.reviews", VERSIONS) if "reviews" in expect else None
    )
    pages = r.shares(expect["pages"], f"{where}.expect.pages", PAGE_STATES) if "pages" in expect else None
    if reviews is None and pages is None:
        raise r.fail(where, "traffic needs an expectation (expect.reviews and/or expect.pages)")
    return Probe(
        name, r.traffic(traffic, f"{where}.traffic" if where != "traffic" else "traffic"), reviews, pages
    )


def _pod_check(r: _Reader, entry: object, where: str) -> PodCheck:
    data = r.mapping(entry, where, {"selector", "ready", "count"})
    count = data.get("count")
    return PodCheck(
        selector=str(data["selector"]) if data.get("selector") else None,
        ready=str(data["ready"]) if data.get("ready") else None,
        count=int(r.number(count, f"{where}.count", low=0, high=10000)) if count is not None else None,
    )


def _object_check(r: _Reader, entry: object, where: str) -> ObjectCheck:
    data = r.mapping(entry, where, {"kind", "name", "fields"})
    if not data.get("kind") or not data.get("name"):
        raise r.fail(where, "needs kind and name")
    fields_raw = data.get("fields") or {}
    if not isinstance(fields_raw, Mapping):
        raise r.fail(f"{where}.fields", "expected a mapping of field path to value")
    return ObjectCheck(str(data["kind"]), str(data["name"]), dict(fields_raw))


def load_scenario(path: Path) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ScenarioError(f"{path}: scenario file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read scenario: {exc}") from None
    scenario = parse_scenario(text, source=str(path), base_dir=path.resolve().parent)
    check_manifests(scenario, str(path))
    return Scenario(**{**scenario.__dict__, "path": path})


def check_manifests(scenario: Scenario, source: str) -> None:
    """Read and check every manifest the scenario applies, so bad YAML or an unknown kind stops the run
    before anything is changed (instead of half-way through applying)."""
    for where, items in (("setup", scenario.setup), ("apply", scenario.apply)):
        for index, item in enumerate(items):
            try:
                load_manifest_file(item.path)
            except InputError as exc:
                raise ScenarioError(f"{source}: {where}[{index}]: {exc}") from None
