"""Unit tests for what sits under the API: kinds, store, selectors, patches, printing, conversion,
protobuf."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from harness.lab.kinds import UnknownKind, by_plural, resource_for
from harness.lab.kubeapi.convert import hpa_v1_to_v2, hpa_v2_to_v1
from harness.lab.kubeapi.patch import json_patch, merge_patch, strategic_merge
from harness.lab.kubeapi.protobuf import MAGIC, ProtobufError, decode_object
from harness.lab.kubeapi.tables import hpa_targets, human_duration, pod_ready, pod_status, service_ports
from harness.lab.store import ObjectStore, StoreError, invalid, matches_selector, parse_selector

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def vs(name: str = "reviews", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1alpha3",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec or {"hosts": ["reviews"]},
    }


# ------------------------------------------------------------------------------------------------ kinds


@pytest.mark.parametrize(
    ("api_version", "kind", "plural"),
    [
        ("v1", "Pod", "pods"),
        ("apps/v1", "Deployment", "deployments"),
        ("autoscaling/v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
        ("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
        ("networking.istio.io/v1alpha3", "VirtualService", "virtualservices"),
        ("networking.istio.io/v1beta1", "DestinationRule", "destinationrules"),
        ("networking.istio.io/v1", "Gateway", "gateways"),
    ],
)
def test_resource_for_known(api_version: str, kind: str, plural: str) -> None:
    assert resource_for(api_version, kind).plural == plural


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [("networking.istio.io/v1beta3", "VirtualService"), ("v1", "Deployment"), ("apps/v1", "Nope")],
)
def test_resource_for_unknown(api_version: str, kind: str) -> None:
    with pytest.raises(UnknownKind, match=f'no matches for kind "{kind}" in version "{api_version}"'):
        resource_for(api_version, kind)


def test_by_plural_respects_version() -> None:
    assert by_plural("networking.istio.io", "v1beta3", "virtualservices") is None
    rt = by_plural("", "v1", "pods")
    assert rt is not None and rt.group_resource == "pods"
    rt = by_plural("networking.istio.io", "v1", "virtualservices")
    assert rt is not None and rt.group_resource == "virtualservices.networking.istio.io"


# ------------------------------------------------------------------------------------------- selectors


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("app=reviews", {"app": "reviews"}, True),
        ("app==reviews", {"app": "reviews"}, True),
        ("app=reviews", {"app": "ratings"}, False),
        ("app=reviews,version!=v1", {"app": "reviews", "version": "v2"}, True),
        ("app=reviews,version!=v1", {"app": "reviews", "version": "v1"}, False),
        ("version!=v1", {}, True),
        ("app in (a,b)", {"app": "b"}, True),
        ("app in (a, b)", {"app": "c"}, False),
        ("app notin (a,b)", {"app": "c"}, True),
        ("app notin (a,b)", {}, True),
        ("x", {"x": ""}, True),
        ("x", {}, False),
        ("!x", {}, True),
        ("!x", {"x": "1"}, False),
        ("", {"anything": "1"}, True),
    ],
)
def test_label_selectors(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert matches_selector(labels, parse_selector(selector)) is expected


@pytest.mark.parametrize("selector", ["app=,", "a b c", "app in (a,b", "=x"])
def test_bad_label_selectors(selector: str) -> None:
    with pytest.raises(StoreError) as exc:
        parse_selector(selector)
    assert exc.value.code == 400


# ------------------------------------------------------------------------------------------------ store


def test_store_create_sets_metadata_and_events() -> None:
    store = ObjectStore(clock=lambda: NOW)
    seen: list[tuple[str, str]] = []
    unsubscribe = store.subscribe(lambda t, o, old: seen.append((t, o["metadata"]["resourceVersion"])))
    created = store.create(vs())
    md = created["metadata"]
    assert md["creationTimestamp"] == "2026-01-01T00:00:00Z"
    assert md["generation"] == 1 and md["uid"] and md["resourceVersion"] == "1"
    assert created["apiVersion"] == "networking.istio.io/v1alpha3"
    with pytest.raises(StoreError) as exc:
        store.create(vs())
    assert exc.value.code == 409 and exc.value.reason == "AlreadyExists"
    assert exc.value.message == 'virtualservices.networking.istio.io "reviews" already exists'
    updated = store.update({**created, "spec": {"hosts": ["reviews", "x"]}})
    assert updated["metadata"]["generation"] == 2 and updated["metadata"]["resourceVersion"] == "2"
    relabelled = store.update({**updated, "metadata": {**updated["metadata"], "labels": {"a": "b"}}})
    assert relabelled["metadata"]["generation"] == 2
    store.set_status("VirtualService", "default", "reviews", {"ok": True})
    store.delete("VirtualService", "default", "reviews")
    assert seen == [("ADDED", "1"), ("MODIFIED", "2"), ("MODIFIED", "3"), ("MODIFIED", "4"), ("DELETED", "5")]
    unsubscribe()
    store.create(vs("other"))
    assert len(seen) == 5
    assert [t for t, _ in store.events_since(3)] == ["MODIFIED", "DELETED", "ADDED"]
    assert store.resource_version == 6


def test_store_conflict_and_not_found() -> None:
    store = ObjectStore()
    created = store.create(vs())
    store.update(created)
    with pytest.raises(StoreError) as exc:
        store.update(created)  # stale resourceVersion
    assert exc.value.code == 409 and exc.value.reason == "Conflict"
    store.update(created, check_version=False)
    with pytest.raises(StoreError) as exc:
        store.delete("VirtualService", "default", "nope")
    assert exc.value.status()["details"] == {
        "name": "nope",
        "group": "networking.istio.io",
        "kind": "virtualservices",
    }
    assert exc.value.status()["message"] == 'virtualservices.networking.istio.io "nope" not found'
    assert store.get("VirtualService", "default", "nope") is None


def test_store_admission_mutates_and_refuses() -> None:
    store = ObjectStore()

    def hook(new: dict[str, Any], old: dict[str, Any] | None) -> None:
        if new["kind"] == "Pod":
            new["spec"]["containers"].append({"name": "istio-proxy", "image": "proxyv2"})
        if new["kind"] == "VirtualService" and "bad" in new["spec"]:
            raise invalid(
                "VirtualService", new["metadata"]["name"], [("spec.bad", 'Invalid value: "x": demo')]
            )

    store.admission.append(hook)
    pod = store.create(
        {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {"generateName": "p-", "namespace": "default"},
            "spec": {"containers": [{"name": "app", "image": "x"}]},
        }
    )
    assert pod["metadata"]["name"].startswith("p-") and len(pod["spec"]["containers"]) == 2
    with pytest.raises(StoreError) as exc:
        store.create(vs(bad="x"))
    assert exc.value.code == 422
    assert (
        exc.value.message
        == 'VirtualService.networking.istio.io "reviews" is invalid: spec.bad: Invalid value: "x": demo'
    )
    assert exc.value.details["causes"][0]["field"] == "spec.bad"
    assert store.resource_version == 1


def test_store_dry_run_and_list_selector() -> None:
    store = ObjectStore()
    store.create(vs(), dry_run=True)
    assert store.get("VirtualService", "default", "reviews") is None and store.resource_version == 0
    a = store.create({**vs("a"), "metadata": {"name": "a", "namespace": "default", "labels": {"app": "x"}}})
    store.create({**vs("b"), "metadata": {"name": "b", "namespace": "other", "labels": {"app": "y"}}})
    assert [o["metadata"]["name"] for o in store.list("VirtualService")] == ["a", "b"]
    assert [o["metadata"]["name"] for o in store.list("VirtualService", "other")] == ["b"]
    assert [o["metadata"]["name"] for o in store.list("VirtualService", selector="app=x")] == ["a"]
    a["spec"]["hosts"] = ["mutated"]
    assert store.get("VirtualService", "default", "a")["spec"] == {"hosts": ["reviews"]}  # type: ignore[index]
    with pytest.raises(StoreError):
        store.create({**vs("c"), "metadata": {"name": "c"}})  # namespaced kind without namespace
    assert len(store.snapshot()) == 2


def test_store_history_expires() -> None:
    store = ObjectStore()
    for i in range(5000):
        store.create(vs(f"vs{i}"))
    with pytest.raises(StoreError) as exc:
        store.events_since(10)
    assert exc.value.code == 410
    assert len(store.events_since(4990)) == 10


# ---------------------------------------------------------------------------------------------- patches


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        ({"a": 1, "b": {"c": 2}}, {"b": {"d": 3}}, {"a": 1, "b": {"c": 2, "d": 3}}),
        ({"a": 1, "b": 2}, {"a": None}, {"b": 2}),
        ({"l": [1, 2]}, {"l": [3]}, {"l": [3]}),
        ({"a": {"b": 1}}, {"a": 5}, {"a": 5}),
    ],
)
def test_merge_patch(target: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]) -> None:
    assert merge_patch(target, patch) == expected


@pytest.mark.parametrize(
    ("ops", "expected"),
    [
        ([{"op": "add", "path": "/spec/hosts/-", "value": "x"}], {"spec": {"hosts": ["a", "x"]}}),
        ([{"op": "replace", "path": "/spec/hosts/0", "value": "b"}], {"spec": {"hosts": ["b"]}}),
        ([{"op": "remove", "path": "/spec/hosts"}], {"spec": {}}),
        (
            [{"op": "copy", "from": "/spec/hosts", "path": "/spec/h2"}],
            {"spec": {"hosts": ["a"], "h2": ["a"]}},
        ),
        ([{"op": "move", "from": "/spec/hosts", "path": "/spec/h2"}], {"spec": {"h2": ["a"]}}),
        ([{"op": "test", "path": "/spec/hosts/0", "value": "a"}], {"spec": {"hosts": ["a"]}}),
        ([{"op": "add", "path": "/metadata~1x", "value": 1}], {"spec": {"hosts": ["a"]}, "metadata/x": 1}),
    ],
)
def test_json_patch(ops: list[dict[str, Any]], expected: dict[str, Any]) -> None:
    assert json_patch({"spec": {"hosts": ["a"]}}, ops) == expected


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "test", "path": "/spec/hosts/0", "value": "z"}],
        [{"op": "remove", "path": "/nope"}],
        [{"op": "replace", "path": "/spec/hosts/5", "value": 1}],
    ],
)
def test_json_patch_failures(ops: list[dict[str, Any]]) -> None:
    with pytest.raises(StoreError) as exc:
        json_patch({"spec": {"hosts": ["a"]}}, ops)
    assert exc.value.code == 422


DEPLOY = {
    "spec": {
        "replicas": 1,
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": "app:1",
                        "env": [{"name": "A", "value": "1"}],
                        "ports": [{"containerPort": 9080}],
                        "volumeMounts": [{"mountPath": "/tmp", "name": "tmp"}],
                    },
                    {"name": "side", "image": "side:1"},
                ],
                "volumes": [{"name": "tmp", "emptyDir": {}}],
            }
        },
    }
}


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return obj["spec"]["template"]["spec"]["containers"]


@pytest.mark.parametrize(
    ("patch", "check"),
    [
        ({"spec": {"replicas": 2}}, lambda o: o["spec"]["replicas"] == 2 and len(_containers(o)) == 2),
        (
            {
                "spec": {
                    "template": {
                        "spec": {
                            "$setElementOrder/containers": [{"name": "side"}, {"name": "app"}],
                            "containers": [{"name": "app", "image": "app:2"}],
                        }
                    }
                }
            },
            lambda o: (
                [c["name"] for c in _containers(o)] == ["side", "app"]
                and _containers(o)[1]["image"] == "app:2"
                and _containers(o)[1]["env"] == [{"name": "A", "value": "1"}]
            ),
        ),
        (
            {
                "spec": {
                    "template": {
                        "spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "2"}]}]}
                    }
                }
            },
            lambda o: _containers(o)[0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
        ),
        (
            {"spec": {"template": {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}}},
            lambda o: [c["name"] for c in _containers(o)] == ["app"],
        ),
        (
            {
                "spec": {
                    "template": {
                        "spec": {"containers": [{"name": "app", "ports": [{"containerPort": 15090}]}]}
                    }
                }
            },
            lambda o: [p["containerPort"] for p in _containers(o)[0]["ports"]] == [9080, 15090],
        ),
        (
            {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": None}]}}}},
            lambda o: "image" not in _containers(o)[0],
        ),
        (
            {"spec": {"template": {"spec": {"$retainKeys": ["containers"], "containers": []}}}},
            lambda o: "volumes" not in o["spec"]["template"]["spec"] and len(_containers(o)) == 2,
        ),
        (
            {
                "spec": {
                    "template": {
                        "spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}
                    }
                }
            },
            lambda o: [c["name"] for c in _containers(o)] == ["only"],
        ),
        (
            {"spec": {"template": {"$patch": "replace", "spec": {"containers": []}}}},
            lambda o: o["spec"]["template"] == {"spec": {"containers": []}},
        ),
        (
            {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {"name": "app", "volumeMounts": [{"mountPath": "/tmp", "readOnly": True}]}
                            ]
                        }
                    }
                }
            },
            lambda o: (
                _containers(o)[0]["volumeMounts"] == [{"mountPath": "/tmp", "name": "tmp", "readOnly": True}]
            ),
        ),
    ],
)
def test_strategic_merge(patch: dict[str, Any], check: Any) -> None:
    before = repr(DEPLOY)
    assert check(strategic_merge(DEPLOY, patch))
    assert repr(DEPLOY) == before  # inputs untouched


def test_strategic_merge_service_ports_and_finalizers() -> None:
    svc = {"spec": {"ports": [{"port": 80, "name": "http"}]}, "metadata": {"finalizers": ["a"]}}
    out = strategic_merge(
        svc,
        {
            "spec": {"ports": [{"port": 80, "nodePort": 30080}]},
            "metadata": {"finalizers": ["b"], "$deleteFromPrimitiveList/finalizers": ["a"]},
        },
    )
    assert out["spec"]["ports"] == [{"port": 80, "name": "http", "nodePort": 30080}]
    assert out["metadata"]["finalizers"] == ["b"]


# --------------------------------------------------------------------------------------------- printing


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (-1, "0s"),
        (-5, "<invalid>"),
        (46, "46s"),
        (119, "119s"),
        (120, "2m"),
        (150, "2m30s"),
        (600, "10m"),
        (179 * 60, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 300, "3h5m"),
        (20 * 3600, "20h"),
        (2 * 86400, "2d"),
        (2 * 86400 + 3600, "2d1h"),
        (30 * 86400, "30d"),
        (800 * 86400, "2y70d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_duration(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def _pod(statuses: list[dict[str, Any]], phase: str = "Running", **extra: Any) -> dict[str, Any]:
    return {
        "metadata": extra.get("metadata", {}),
        "spec": {"containers": [{"name": s["name"]} for s in statuses], **extra.get("spec", {})},
        "status": {"phase": phase, "containerStatuses": statuses, **extra.get("status", {})},
    }


@pytest.mark.parametrize(
    ("pod", "ready", "status"),
    [
        (_pod([{"name": "a", "ready": True, "state": {"running": {}}}] * 2), "2/2", "Running"),
        (
            _pod([{"name": "a", "ready": False, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]),
            "0/1",
            "CrashLoopBackOff",
        ),
        (
            _pod([{"name": "a", "ready": False, "state": {"terminated": {"exitCode": 1}}}], "Failed"),
            "0/1",
            "ExitCode:1",
        ),
        (_pod([], "Pending"), "0/0", "Pending"),
        (
            _pod(
                [{"name": "a", "ready": True, "state": {"running": {}}}], metadata={"deletionTimestamp": "x"}
            ),
            "1/1",
            "Terminating",
        ),
        (
            _pod(
                [{"name": "app", "ready": True, "state": {"running": {}}}],
                spec={"initContainers": [{"name": "istio-proxy", "restartPolicy": "Always"}]},
                status={
                    "initContainerStatuses": [
                        {"name": "istio-proxy", "ready": True, "started": True, "state": {"running": {}}}
                    ]
                },
            ),
            "2/2",
            "Running",
        ),
    ],
)
def test_pod_ready_and_status(pod: dict[str, Any], ready: str, status: str) -> None:
    assert pod_ready(pod) == ready
    assert pod_status(pod) == status


def test_service_ports_and_hpa_targets() -> None:
    svc = {
        "spec": {
            "ports": [{"port": 15021, "nodePort": 31234, "protocol": "TCP"}, {"port": 80, "nodePort": 30080}]
        }
    }
    assert service_ports(svc) == "15021:31234/TCP,80:30080/TCP"
    hpa = hpa_v1_to_v2({"spec": {"targetCPUUtilizationPercentage": 50}})
    assert hpa_targets(hpa) == "cpu: <unknown>/50%"
    hpa["status"] = {
        "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 12}}}
        ]
    }
    assert hpa_targets(hpa) == "cpu: 12%/50%"


def test_hpa_conversion_round_trip() -> None:
    v1 = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "r"},
        "spec": {
            "minReplicas": 1,
            "maxReplicas": 10,
            "targetCPUUtilizationPercentage": 50,
            "scaleTargetRef": {"kind": "Deployment", "name": "r", "apiVersion": "apps/v1"},
        },
        "status": {"currentReplicas": 1, "desiredReplicas": 1, "currentCPUUtilizationPercentage": 7},
    }
    v2 = hpa_v1_to_v2(v1)
    assert v2["apiVersion"] == "autoscaling/v2"
    assert v2["spec"]["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 50}
    assert hpa_v2_to_v1(v2) == v1


# --------------------------------------------------------------------------------------------- protobuf


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num: int, value: int | bytes | str) -> bytes:
    if isinstance(value, int):
        return _varint(num << 3) + _varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _varint(num << 3 | 2) + _varint(len(data)) + data


def encode_hpa_v1(name: str, target: int) -> bytes:
    meta = _field(1, name) + _field(2, "") + _field(3, "") + _field(11, _field(1, "a") + _field(2, "b"))
    ref = _field(1, "Deployment") + _field(2, name) + _field(3, "apps/v1")
    spec = _field(1, ref) + _field(2, 1) + _field(3, 10) + _field(4, target)
    raw = _field(1, meta) + _field(2, spec) + _field(3, b"")
    type_meta = _field(1, "autoscaling/v1") + _field(2, "HorizontalPodAutoscaler")
    return MAGIC + _field(1, type_meta) + _field(2, raw) + _field(3, "") + _field(4, "")


def test_protobuf_hpa_decode() -> None:
    assert decode_object(encode_hpa_v1("reviews-v1", 50)) == {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "reviews-v1", "labels": {"a": "b"}},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "reviews-v1", "apiVersion": "apps/v1"},
            "minReplicas": 1,
            "maxReplicas": 10,
            "targetCPUUtilizationPercentage": 50,
        },
    }


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{}",
        MAGIC,
        MAGIC + b"\x0a\xff",
        MAGIC + _field(1, _field(1, "v1") + _field(2, "Secret")) + _field(2, b""),
    ],
)
def test_protobuf_rejects(body: bytes) -> None:
    with pytest.raises(ProtobufError):
        decode_object(body)


def test_clock_is_used_for_timestamps() -> None:
    store = ObjectStore(clock=lambda: NOW + timedelta(hours=1))
    assert store.create(vs())["metadata"]["creationTimestamp"] == "2026-01-01T01:00:00Z"
