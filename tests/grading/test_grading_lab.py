"""Grading on the lab: the answer key scores 100%, each common mistake loses exactly what it should with the
expected diagnosis, grading changes nothing, and two runs give the same score."""

from __future__ import annotations

import pytest
from grading_support import RUBRIC, find, lab_with

from harness.grading import TargetSpec, grade, load_rubric
from harness.grading.readonly import STATE_KINDS
from harness.grading.report import table

RUBRIC_OBJ = load_rubric(RUBRIC)


def _versions(target) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Every object's resourceVersion in the graded namespaces (read with the harness's own client)."""
    out = {}
    for ns in RUBRIC_OBJ.namespaces():
        live = target.kube.get("Namespace", None, ns)
        if live:
            out[f"Namespace {ns}"] = live["metadata"]["resourceVersion"]
        for kind in (*STATE_KINDS, "ServiceAccount", "ReplicaSet"):
            for obj in target.kube.list(kind, ns):
                out[f"{kind} {ns}/{obj['metadata']['name']}"] = obj["metadata"]["resourceVersion"]
    return out


def test_answer_key_scores_full_marks_reads_only_and_repeats() -> None:
    with lab_with() as (info, target):
        spec = TargetSpec.for_lab("key", info)
        before = _versions(target)
        first, _ = grade(RUBRIC_OBJ, spec)
        second, _ = grade(RUBRIC_OBJ, spec)
        after = _versions(target)
    assert first.earned == first.total == 100, table(first)
    assert first.config == (78, 78) and first.behaviour == (22, 22)
    assert [(i.id, i.earned) for i in second.items] == [(i.id, i.earned) for i in first.items]
    assert first.identity == "bearer token" and "token" not in first.host
    assert len(before) > 30
    assert after == before  # grading changed no object


def _drop_subset(objs: list[dict]) -> list[dict]:
    dr = find(objs, "DestinationRule", "reviews")
    dr["spec"]["subsets"] = [s for s in dr["spec"]["subsets"] if s["name"] != "v3"]
    return objs


def _unlabelled(objs: list[dict]) -> list[dict]:
    return [o for o in objs if not (o["kind"] == "Namespace" and o["metadata"]["name"] == "default")]


def _wrong_gateway(objs: list[dict]) -> list[dict]:
    find(objs, "VirtualService", "bookinfo")["spec"]["gateways"] = ["bookinfo-gw"]
    return objs


def _two_virtual_services(objs: list[dict]) -> list[dict]:
    extra = {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": "reviews-v3-only"},
        "spec": {
            "hosts": ["reviews.default.svc.cluster.local"],
            "http": [{"route": [{"destination": {"host": "reviews", "subset": "v3"}}]}],
        },
    }
    return [*objs, extra]


def _weights_wrong_subsets(objs: list[dict]) -> list[dict]:
    rule = find(objs, "VirtualService", "reviews")["spec"]["http"][1]
    rule["route"][1]["destination"]["subset"] = "v2"
    return objs


def _hpa_max(objs: list[dict]) -> list[dict]:
    find(objs, "HorizontalPodAutoscaler", "reviews-v2")["spec"]["maxReplicas"] = 5
    return objs


# mistake -> ({item: points lost}, {item: text that must appear in its advice})
MISTAKES = {
    "subset-missing-from-dr": (
        _drop_subset,
        {"destination-rules": 4, "traffic-shift": 9, "mirroring": 9},
        {
            "destination-rules": "IST0101 (VirtualService default/reviews) Referenced host+subset in "
            'destinationrule not found: "reviews+v3"'
        },
    ),
    "namespace-not-labelled": (
        _unlabelled,
        {"injection": 10, "header-routing": 8, "traffic-shift": 9, "mirroring": 9},
        {"injection": "IST0102 (Namespace default) The namespace is not enabled for Istio injection"},
    ),
    "wrong-gateway-name": (
        _wrong_gateway,
        {"gateway": 11, "header-routing": 5, "traffic-shift": 6, "mirroring": 5},
        {"gateway": 'IST0101 (VirtualService default/bookinfo) Referenced gateway not found: "bookinfo-gw"'},
    ),
    "two-virtualservices-one-host": (
        _two_virtual_services,
        {"traffic-shift": 1},
        {"traffic-shift": "IST0109"},
    ),
    "weights-on-wrong-subsets": (
        _weights_wrong_subsets,
        {"traffic-shift": 9},
        {
            "traffic-shift": 'HARNESS001 (VirtualService default/reviews) config routes reviews {"v1": 0.5, '
            '"v2": 0.5} but the scenario expects {"v1": 0.5, "v3": 0.5}'
        },
    ),
    "hpa-wrong-max": (
        _hpa_max,
        {"hpa": 3},
        {"hpa": "kubectl autoscale deployment reviews-v2"},
    ),
}


@pytest.mark.parametrize("name", list(MISTAKES))
def test_mistake_loses_exactly_the_expected_points(name: str) -> None:
    mutate, losses, advice = MISTAKES[name]
    with lab_with(mutate) as (info, _target):
        sheet, _ = grade(RUBRIC_OBJ, TargetSpec.for_lab(name, info))
    lost = {i.id: round(i.points - i.earned, 6) for i in sheet.items if i.earned < i.points}
    assert lost == losses, table(sheet)
    for item_id, text in advice.items():
        assert text in sheet.item(item_id).advice(), table(sheet)
