"""Metrics parsing and mirror arithmetic, pod and object checks."""

from __future__ import annotations

from harness.checks import check_object, check_pods, ready_column
from harness.metrics import mirror_count, parse_prometheus_text
from harness.scenario import ObjectCheck, PodCheck


def _series(reporter: str, workload: str, value: float, service: str = "reviews") -> str:
    return (
        f'istio_requests_total{{reporter="{reporter}",destination_service_name="{service}",'
        f'destination_service_namespace="default",destination_workload="{workload}",'
        f'destination_workload_namespace="default",response_code="200"}} {value}'
    )


def test_mirrored_copies_are_destination_reports_without_a_source_report() -> None:
    before = parse_prometheus_text(
        "\n".join(
            [
                "# HELP istio_requests_total x",
                "# TYPE istio_requests_total counter",
                _series("source", "reviews-v1", 10),
                _series("destination", "reviews-v1", 10),
                _series("destination", "reviews-v2", 10),
            ]
        ),
        "istio_requests_total",
    )
    after = parse_prometheus_text(
        "\n".join(
            [
                _series("source", "reviews-v1", 110),
                _series("destination", "reviews-v1", 110),
                _series("destination", "reviews-v2", 105),
                _series("source", "details-v1", 7, service="details"),
            ]
        ),
        "istio_requests_total",
    )
    count = mirror_count(before, after, service="reviews", mirror_workload="reviews-v2")
    assert (count.routed, count.mirrored) == (100, 95)


def _pod(name: str, labels: dict, ready: list[bool]) -> dict:
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": f"c{i}"} for i in range(len(ready))]},
        "status": {"containerStatuses": [{"name": f"c{i}", "ready": r} for i, r in enumerate(ready)]},
    }


def test_ready_column_counts_ready_containers_like_kubectl() -> None:
    assert ready_column(_pod("p", {}, [True, True])) == "2/2"
    assert ready_column(_pod("p", {}, [True, False])) == "1/2"


def test_pod_checks_name_the_pods_that_differ() -> None:
    pods = [
        _pod("productpage-1", {"app": "productpage"}, [True, True]),
        _pod("reviews-1", {"app": "reviews"}, [True]),
    ]
    assert check_pods(pods, PodCheck(selector="app=productpage", ready="2/2", count=1)).ok
    result = check_pods(pods, PodCheck(ready="2/2", count=2))
    assert not result.ok and "reviews-1 1/1" in result.detail


def test_object_checks_compare_dotted_field_paths() -> None:
    hpa = {"spec": {"minReplicas": 1, "maxReplicas": 10, "metrics": [{"resource": {"name": "cpu"}}]}}
    assert check_object(
        hpa, ObjectCheck("HorizontalPodAutoscaler", "r", {"spec.metrics.0.resource.name": "cpu"})
    ).ok
    bad = check_object(hpa, ObjectCheck("HorizontalPodAutoscaler", "r", {"spec.maxReplicas": 5}))
    assert not bad.ok and "spec.maxReplicas is 10, expected 5" in bad.detail
    assert check_object(None, ObjectCheck("HorizontalPodAutoscaler", "r")).detail == "not found"
