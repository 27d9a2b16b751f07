"""Pure parts of grading: field paths, rubric parsing, scoring and gates, pod and HPA shapes, anti-cheat,
reports, the published schema, and the read-only guarantee."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from grading_support import RUBRIC

import harness.grading
from harness.errors import InputError
from harness.grading import parse_rubric
from harness.grading.baseline import flags_since, make_baseline
from harness.grading.checks import CheckResult, evaluate_config, has_sidecar, oracle_view, pod_ready
from harness.grading.jsonpath import JsonPathError, evaluate, parse
from harness.grading.readonly import ReadOnlyKube, hpa_as_v2
from harness.grading.report import classroom, junit
from harness.grading.rubric import _PARAMS, CHECK_KINDS
from harness.grading.score import Sheet, score

VS = {
    "kind": "VirtualService",
    "apiVersion": "networking.istio.io/v1alpha3",
    "metadata": {"name": "reviews", "namespace": "default", "labels": {"istio.io/rev": "x"}},
    "spec": {
        "hosts": ["reviews.default.svc.cluster.local"],
        "http": [
            {
                "match": [{"headers": {"end-user": {"exact": "jason"}}}],
                "route": [{"destination": {"host": "reviews", "subset": "v2"}}],
            },
            {
                "route": [
                    {"destination": {"host": "reviews", "subset": "v1"}, "weight": 50},
                    {"destination": {"host": "reviews", "subset": "v3"}, "weight": 50},
                ]
            },
        ],
    },
}


@pytest.mark.parametrize(
    ("path", "values"),
    [
        ("{.spec.http[1].route[*].weight}", [50, 50]),
        (".spec.http[*].match[*].headers.end-user.exact", ["jason"]),
        ("{.metadata.labels.istio\\.io/rev}", ["x"]),
        ("{.metadata.labels['istio.io/rev']}", ["x"]),
        ('{.spec.http[1].route[?(@.destination.subset=="v3")].weight}', [50]),
        ("{.spec.http[?(@.match)].route[0].destination.subset}", ["v2"]),
        ("{.spec.http[-1].route[0].destination.subset}", ["v1"]),
        ("{.spec.nothing}", []),
    ],
)
def test_jsonpath(path: str, values: list) -> None:
    assert evaluate(VS, path) == values


@pytest.mark.parametrize("bad", ["", "{}", "{.spec[}", "spec..x", "{.spec[?(bad)]}"])
def test_jsonpath_rejects(bad: str) -> None:
    with pytest.raises(JsonPathError):
        parse(bad)


def _rubric(checks: str, extra_items: str = "") -> harness.grading.Rubric:
    return parse_rubric(f"name: t\nitems:\n- id: a\n  points: 10\n  checks:\n{checks}{extra_items}")


def _objcheck(field: str) -> str:
    return f"  - {{id: c, kind: object, object: VirtualService, host: reviews, fields: [{field}]}}\n"


@pytest.mark.parametrize(
    ("field", "passed"),
    [
        ('{path: "{.spec.http[1].route[*].weight}", equals: [50, 50]}', True),
        ('{path: "{.spec.http[1].route[*].weight}", equals: [50, 40]}', False),
        ('{path: "{.spec.hosts[*]}", host_equals: reviews}', True),  # short host == FQDN
        ('{path: "{.spec.hosts[*]}", host_equals: reviews.default}', False),
        (
            '{path: "{.spec.http[*].route[*].destination.host}", '
            "contains_host: reviews.default.svc.cluster.local}",
            True,
        ),
        ('{path: "{.spec.http[*].route[*].destination.subset}", contains: [v1, v3]}', True),
        ('{path: "{.spec.http[*].route[*].destination.subset}", any_of: [v1, v3]}', False),
        ('{path: "{.spec.http[0].mirror}", exists: false}', True),
    ],
)
def test_object_field_operators(field: str, passed: bool) -> None:
    check = _rubric(_objcheck(field)).items[0].checks[0]
    result = evaluate_config(check, [VS], oracle_view([], "default"))
    assert result.passed is passed, result


def test_several_virtualservices_together_satisfy_contains() -> None:
    split = json.loads(json.dumps(VS))
    split["metadata"]["name"] = "reviews-2"
    split["spec"]["hosts"] = ["reviews"]
    split["spec"]["http"] = [{"route": [{"destination": {"host": "reviews", "subset": "v9"}}]}]
    field = '{path: "{.spec.http[*].route[*].destination.subset}", contains: [v2, v9]}'
    check = _rubric(_objcheck(field)).items[0].checks[0]
    assert evaluate_config(check, [VS, split], oracle_view([], "default")).passed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("  - {id: c, kind: nope}\n", "unknown check kind"),
        ("  - {id: c, kind: hpa}\n", "needs 'target'"),
        ("  - {id: c, kind: object, object: VirtualService, name: x, host: y}\n", "exactly one of"),
        ("  - {id: c, kind: object, object: Foo, name: x}\n", "unknown kind 'Foo'"),
        (
            '  - {id: c, kind: object, object: Pod, name: x, fields: [{path: "{.a[}", equals: 1}]}\n',
            "unclosed",
        ),
        ("  - {id: c, kind: http, path: /, bogus: 1}\n", "unknown key 'bogus'"),
        ("  - {id: c, kind: traffic}\n", "needs expect"),
    ],
)
def test_rubric_errors_name_the_place(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        _rubric(text)


@pytest.mark.parametrize(
    ("defaults", "check", "message"),
    [
        ("{concurrency: 5000}", "", r"defaults\.concurrency: 5000 is outside \[1, 1024\]"),
        ("{alpha: 0.7}", "", r"defaults\.alpha: 0\.7 is outside"),
        ("{}", ", max_requests: 0", r"\(c\)\.max_requests: 0 is outside \[1, 1e\+07\]"),
        ("{}", ", beta: true", r"\(c\)\.beta: expected a number"),
    ],
)
def test_a_statistical_setting_has_the_same_bounds_in_defaults_and_in_a_check(
    defaults: str, check: str, message: str
) -> None:
    text = (
        f"name: t\ndefaults: {defaults}\nitems:\n- id: a\n  points: 10\n  checks:\n"
        f"  - {{id: c, kind: traffic, expect: {{v1: 1.0}}{check}}}\n"
    )
    with pytest.raises(InputError, match=message):
        parse_rubric(text)


def test_rubric_gate_cycle_rejected() -> None:
    text = (
        "name: t\nitems:\n- {id: a, points: 1, required: [b], checks: [{id: x, kind: http, path: /}]}\n"
        "- {id: b, points: 1, required: [a], checks: [{id: x, kind: http, path: /}]}\n"
    )
    with pytest.raises(InputError, match="cycle"):
        parse_rubric(text)


def _res(check_id: str, weight: float, passed: bool, category: str = "config") -> CheckResult:
    return CheckResult(
        check_id, "http" if category == "behaviour" else "pods", category, weight, passed, "", ""
    )


def test_partial_credit_gate_and_flag() -> None:
    rubric = parse_rubric(
        "name: t\nitems:\n"
        "- {id: a, points: 10, checks: [{id: x, kind: pods, weight: 1},"
        " {id: y, kind: http, path: /, weight: 3}]}\n"
        "- {id: b, points: 4, required: [a], checks: [{id: z, kind: pods}]}\n"
        "- {id: c, points: 6, checks: [{id: z, kind: pods}]}\n"
    )
    items = score(
        rubric,
        {
            "a": [_res("x", 1, True), _res("y", 3, False, "behaviour")],
            "b": [_res("z", 1, True)],
            "c": [_res("z", 1, True)],
        },
        flags={"c": ["recreated"]},
    )
    a, b, c = items
    assert (a.earned, a.config_earned, a.config_points, a.behaviour_points) == (2.5, 2.5, 2.5, 7.5)
    assert b.status == "gated" and b.earned == 0 and "requires a" in b.reason
    assert c.status == "flagged" and c.earned == 0
    sheet = Sheet("t", "x", items)
    assert classroom(sheet)["tests"][0]["score"] == 2.5 and classroom(sheet)["status"] == "fail"
    assert '<property name="points" value="2.50" />' in junit([sheet])


POD = {
    "kind": "Pod",
    "metadata": {"name": "p", "namespace": "default"},
    "status": {
        "phase": "Running",
        "containerStatuses": [{"name": "app", "ready": True}],
        "initContainerStatuses": [{"name": "istio-proxy", "ready": True}],
    },
}


@pytest.mark.parametrize(
    ("spec", "injected", "ready"),
    [
        (
            {
                "containers": [{"name": "app"}],
                "initContainers": [{"name": "istio-proxy", "restartPolicy": "Always"}],
            },
            True,
            True,
        ),  # Istio 1.28+ native sidecar
        ({"containers": [{"name": "app"}], "initContainers": [{"name": "istio-proxy"}]}, False, True),
        ({"containers": [{"name": "app"}]}, False, True),
        ({"containers": [{"name": "app"}, {"name": "istio-proxy"}]}, True, False),  # proxy not ready: 1/2
    ],
)
def test_injection_signal(spec: dict, injected: bool, ready: bool) -> None:
    pod = {**POD, "spec": spec}
    assert has_sidecar(pod) is injected and pod_ready(pod) is ready


def test_hpa_v1_reads_as_v2() -> None:
    v1 = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "reviews-v1", "namespace": "default"},
        "spec": {
            "scaleTargetRef": {"name": "reviews-v1"},
            "maxReplicas": 10,
            "targetCPUUtilizationPercentage": 50,
        },
    }
    check = (
        _rubric("  - {id: h, kind: hpa, target: reviews-v1, min: 1, max: 10, cpu: 50}\n").items[0].checks[0]
    )
    assert evaluate_config(check, [hpa_as_v2(v1)], oracle_view([], "default")).passed
    assert evaluate_config(check, [v1], oracle_view([], "default")).passed


def test_anticheat_flags() -> None:
    rubric = parse_rubric(
        "name: t\nitems:\n- {id: a, points: 1, modifies: [VirtualService/reviews],"
        " creates: [Sidecar/exam/default],"
        " checks: [{id: x, kind: http, path: /}]}\n"
    )
    vs = {
        "kind": "VirtualService",
        "metadata": {
            "name": "reviews",
            "namespace": "default",
            "uid": "1",
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
    }
    sc = {
        "kind": "Sidecar",
        "metadata": {
            "name": "default",
            "namespace": "exam",
            "uid": "9",
            "creationTimestamp": "2025-12-31T00:00:00Z",
        },
    }
    from datetime import UTC, datetime

    base = make_baseline([vs], target="t", taken_at=datetime(2026, 1, 1, 1, tzinfo=UTC))
    assert "a" in flags_since(rubric, base, [vs, sc])  # sidecar created before the exam
    recreated = {**vs, "metadata": {**vs["metadata"], "uid": "2"}}
    flags = flags_since(rubric, base, [recreated])
    assert "deleted and recreated" in flags["a"][0]
    assert flags_since(rubric, base, [vs]) == {}


def test_schema_matches_the_parser() -> None:
    schema = json.loads((RUBRIC.parent / "rubric.schema.json").read_text())
    kinds = [d["$ref"].rsplit("_", 1)[-1] for d in schema["$defs"]["check"]["oneOf"]]
    assert [k.replace("check_", "") for k in kinds] == [
        k.rsplit("_", 1)[-1] if False else k for k in CHECK_KINDS
    ] or kinds  # names below
    for kind in CHECK_KINDS:
        definition = schema["$defs"][f"check_{kind}"]
        required, optional = _PARAMS[kind]
        assert set(definition["required"]) == {"id", "kind"} | required
        assert set(definition["properties"]) >= required | optional
    raw = __import__("yaml").safe_load(RUBRIC.read_text())
    assert set(raw) <= set(schema["properties"])
    for item in raw["items"]:
        assert set(item) <= set(schema["$defs"]["item"]["properties"])
        for check in item["checks"]:
            assert set(check) <= set(schema["$defs"][f"check_{check['kind']}"]["properties"])


MUTATING = re.compile(r"\.(apply|create|replace|delete|patch|put|post)\(|\"(POST|PUT|PATCH|DELETE)\"")


def test_grading_code_holds_no_mutating_verb() -> None:
    package = Path(harness.grading.__file__).parent
    sources = [*package.glob("*.py"), package.parent / "cli_grade.py"]
    for path in sources:
        text = path.read_text()
        assert not MUTATING.search(text), f"{path.name}: {MUTATING.search(text)}"
        tree = ast.parse(text)
        for node in ast.walk(tree):  # no attribute access to KubeClient's writers anywhere
            if isinstance(node, ast.Attribute):
                assert node.attr not in {"apply", "create", "replace", "delete"}, f"{path.name}: .{node.attr}"
    public = {n for n in dir(ReadOnlyKube) if not n.startswith("_")}
    assert public == {
        "close",
        "connect",
        "context",
        "get",
        "host",
        "identity",
        "list",
        "preferred_version",
        "server_version",
    }


class _Recorder:
    host, identity = "https://x", "bearer token"

    def __init__(self) -> None:
        self.methods: list[str] = []

    def request(self, method: str, path: str, **_kw: object) -> dict:
        self.methods.append(method)
        return {"items": [], "preferredVersion": {"version": "v1"}, "gitVersion": "v1.30"}

    def close(self) -> None:
        pass


def test_read_only_wrapper_sends_only_get() -> None:
    from harness.grading.readonly import collect_state

    rec = _Recorder()
    kube = ReadOnlyKube(rec)  # type: ignore[arg-type]
    collect_state(kube, ["default", "istio-system"])
    kube.server_version()
    assert rec.methods and set(rec.methods) == {"GET"}
