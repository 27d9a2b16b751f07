"""The API server against the official kubernetes Python client (typed pydantic models, CustomObjectsApi,
DynamicClient), over HTTPS with the bearer token from the kubeconfig."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubeapi_lab import Lab, make_deployment, make_pod
from kubernetes import client, dynamic
from kubernetes.client.exceptions import ApiException

ISTIO = "networking.istio.io"


def vs_body(version: str = "v1alpha3", name: str = "reviews", subset: str = "v1") -> dict[str, Any]:
    return {
        "apiVersion": f"{ISTIO}/{version}",
        "kind": "VirtualService",
        "metadata": {"name": name},
        "spec": {
            "hosts": ["reviews"],
            "http": [{"route": [{"destination": {"host": "reviews", "subset": subset}}]}],
        },
    }


def status_body(exc: ApiException) -> dict[str, Any]:
    body = json.loads(exc.body)
    assert body["kind"] == "Status" and body["status"] == "Failure"
    return body


def test_list_and_read_pods_with_label_selectors(lab: Lab) -> None:
    for name, app, version in [
        ("productpage-v1-a", "productpage", "v1"),
        ("reviews-v1-b", "reviews", "v1"),
        ("reviews-v2-c", "reviews", "v2"),
    ]:
        lab.call(lab.store.create, make_pod(name, app=app, version=version))
    core = client.CoreV1Api(lab.api)
    pods = core.list_namespaced_pod("default", label_selector="app=reviews")
    assert [p.metadata.name for p in pods.items] == ["reviews-v1-b", "reviews-v2-c"]
    assert pods.items[0].status.container_statuses[0].restart_count == 0
    assert [
        p.metadata.name
        for p in core.list_namespaced_pod("default", label_selector="app=reviews,version!=v1").items
    ] == ["reviews-v2-c"]
    assert len(core.list_namespaced_pod("default", label_selector="app in (reviews,productpage)").items) == 3
    assert [
        p.metadata.name
        for p in core.list_pod_for_all_namespaces(field_selector="metadata.name=reviews-v2-c").items
    ] == ["reviews-v2-c"]
    pod = core.read_namespaced_pod("productpage-v1-a", "default")
    assert pod.spec.containers[1].name == "istio-proxy" and pod.status.phase == "Running"
    with pytest.raises(ApiException) as exc:
        core.list_namespaced_pod("default", label_selector="app in (a")
    assert exc.value.status == 400


def test_service_crud_and_patch_types(lab: Lab) -> None:
    core = client.CoreV1Api(lab.api)
    svc = client.V1Service(
        metadata=client.V1ObjectMeta(name="productpage", labels={"app": "productpage"}),
        spec=client.V1ServiceSpec(
            selector={"app": "productpage"}, ports=[client.V1ServicePort(port=9080, name="http")]
        ),
    )
    created = core.create_namespaced_service("default", svc)
    assert created.spec.type == "ClusterIP" and created.spec.ports[0].target_port == 9080
    assert created.metadata.resource_version and created.metadata.uid
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_service("default", svc)
    assert exc.value.status == 409 and status_body(exc.value)["reason"] == "AlreadyExists"
    # strategic merge (the typed client's default): ports merge by port
    patched = core.patch_namespaced_service(
        "productpage",
        "default",
        {"spec": {"ports": [{"port": 9080, "name": "http-web"}]}, "metadata": {"labels": {"x": "y"}}},
    )
    assert [(p.port, p.name) for p in patched.spec.ports] == [(9080, "http-web")]
    assert patched.metadata.labels == {"app": "productpage", "x": "y"}
    # JSON patch
    patched = core.patch_namespaced_service(
        "productpage",
        "default",
        [{"op": "replace", "path": "/metadata/labels/x", "value": "z"}],
    )
    assert patched.metadata.labels["x"] == "z"
    # PUT with a stale resourceVersion → 409 Conflict
    stale = created
    stale.metadata.labels = {"stale": "yes"}
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_service("productpage", "default", stale)
    assert exc.value.status == 409 and status_body(exc.value)["reason"] == "Conflict"
    fresh = core.read_namespaced_service("productpage", "default")
    fresh.metadata.labels = {"fresh": "yes"}
    assert core.replace_namespaced_service("productpage", "default", fresh).metadata.labels == {
        "fresh": "yes"
    }
    deleted = core.delete_namespaced_service("productpage", "default")
    assert deleted.metadata.name == "productpage"
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_service("productpage", "default")
    assert exc.value.status == 404
    assert status_body(exc.value)["message"] == 'services "productpage" not found'


def test_read_deployment_is_pydantic_valid(lab: Lab) -> None:
    lab.call(lab.store.create, make_deployment("reviews-v1", "reviews"))
    apps = client.AppsV1Api(lab.api)
    dep = apps.read_namespaced_deployment("reviews-v1", "default")
    assert dep.spec.selector.match_labels == {"app": "reviews", "version": "v1"}
    assert dep.status.ready_replicas == 1
    patched = apps.patch_namespaced_deployment(
        "reviews-v1",
        "default",
        {
            "spec": {
                "template": {
                    "spec": {"containers": [{"name": "reviews", "env": [{"name": "A", "value": "1"}]}]}
                }
            }
        },
    )
    container = patched.spec.template.spec.containers[0]
    assert container.image.endswith("reviews-v1") and container.env[0].name == "A"
    assert patched.metadata.generation == 2
    assert patched.status.ready_replicas == 1  # main-resource writes keep the status
    scale = apps.patch_namespaced_deployment_scale("reviews-v1", "default", {"spec": {"replicas": 3}})
    assert scale.spec.replicas == 3
    assert apps.read_namespaced_deployment("reviews-v1", "default").spec.replicas == 3


def test_pod_logs(lab: Lab) -> None:
    lab.call(lab.store.create, make_pod("productpage-v1-a"))
    lab.logs.logs[("default", "productpage-v1-a", "istio-proxy")] = "one\ntwo\nthree\n"
    core = client.CoreV1Api(lab.api)
    assert (
        core.read_namespaced_pod_log("productpage-v1-a", "default", container="istio-proxy", tail_lines=2)
        == "two\nthree\n"
    )
    for container in ("nope", None):
        with pytest.raises(ApiException) as exc:
            core.read_namespaced_pod_log("productpage-v1-a", "default", container=container)
        assert exc.value.status == 400
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod_log("missing", "default", container="x")
    assert exc.value.status == 404


@pytest.mark.parametrize("read_version", ["v1", "v1beta1", "v1alpha3"])
def test_custom_objects_lifecycle(lab: Lab, read_version: str) -> None:
    co = client.CustomObjectsApi(lab.api)
    created = co.create_namespaced_custom_object(ISTIO, "v1alpha3", "default", "virtualservices", vs_body())
    assert created["apiVersion"] == f"{ISTIO}/v1alpha3" and created["metadata"]["namespace"] == "default"
    got = co.get_namespaced_custom_object(ISTIO, read_version, "default", "virtualservices", "reviews")
    assert got["apiVersion"] == f"{ISTIO}/{read_version}"
    assert got["spec"]["http"][0]["route"][0]["destination"]["subset"] == "v1"
    listed = co.list_namespaced_custom_object(ISTIO, read_version, "default", "virtualservices")
    assert listed["kind"] == "VirtualServiceList" and [i["metadata"]["name"] for i in listed["items"]] == [
        "reviews"
    ]
    with pytest.raises(ApiException) as exc:
        co.create_namespaced_custom_object(ISTIO, "v1alpha3", "default", "virtualservices", vs_body())
    assert exc.value.status == 409
    assert status_body(exc.value)["message"] == 'virtualservices.networking.istio.io "reviews" already exists'
    # replace (PUT) with the live resourceVersion
    got["spec"]["hosts"] = ["reviews", "reviews.default.svc.cluster.local"]
    replaced = co.replace_namespaced_custom_object(
        ISTIO, read_version, "default", "virtualservices", "reviews", got
    )
    assert replaced["metadata"]["generation"] == 2
    # merge patch (default for dict bodies): lists replace wholesale
    patched = co.patch_namespaced_custom_object(
        ISTIO, "v1alpha3", "default", "virtualservices", "reviews", {"spec": {"hosts": ["reviews"]}}
    )
    assert patched["spec"]["hosts"] == ["reviews"]
    # server-side apply of an existing object
    applied = co.patch_namespaced_custom_object(
        ISTIO,
        "v1alpha3",
        "default",
        "virtualservices",
        "reviews",
        vs_body(subset="v2"),
        _content_type="application/apply-patch+yaml",
        field_manager="bookinfo-agent",
        force=True,
    )
    assert applied["spec"]["http"][0]["route"][0]["destination"]["subset"] == "v2"
    # SSA that creates returns 201, which this generated method maps to None
    assert (
        co.patch_namespaced_custom_object(
            ISTIO,
            "v1alpha3",
            "default",
            "virtualservices",
            "ratings",
            vs_body(name="ratings"),
            _content_type="application/apply-patch+yaml",
            field_manager="bookinfo-agent",
            force=True,
        )
        is None
    )
    assert (
        co.get_namespaced_custom_object(ISTIO, "v1", "default", "virtualservices", "ratings")["metadata"][
            "name"
        ]
        == "ratings"
    )
    # strategic merge is refused for custom resources
    with pytest.raises(ApiException) as exc:
        co.patch_namespaced_custom_object(
            ISTIO,
            "v1",
            "default",
            "virtualservices",
            "reviews",
            {"spec": {}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert exc.value.status == 415
    co.delete_namespaced_custom_object(ISTIO, "v1", "default", "virtualservices", "reviews")
    with pytest.raises(ApiException) as exc:
        co.get_namespaced_custom_object(ISTIO, "v1", "default", "virtualservices", "reviews")
    assert exc.value.status == 404
    body = status_body(exc.value)
    assert body["message"] == 'virtualservices.networking.istio.io "reviews" not found'
    assert body["details"] == {"name": "reviews", "group": ISTIO, "kind": "virtualservices"}


def test_admission_refusal_is_422(lab: Lab) -> None:
    from harness.lab.store import invalid

    def hook(new: dict[str, Any], old: dict[str, Any] | None) -> None:
        if new["kind"] == "VirtualService" and "foo" in new["spec"]:
            raise invalid(
                "VirtualService", new["metadata"]["name"], [("spec.foo", 'Invalid value: "bar": demo')]
            )

    lab.call(lab.store.admission.append, hook)
    co = client.CustomObjectsApi(lab.api)
    body = vs_body(name="bad")
    body["spec"]["foo"] = "bar"
    with pytest.raises(ApiException) as exc:
        co.create_namespaced_custom_object(ISTIO, "v1alpha3", "default", "virtualservices", body)
    status = status_body(exc.value)
    assert exc.value.status == 422 and status["reason"] == "Invalid"
    assert (
        status["message"]
        == 'VirtualService.networking.istio.io "bad" is invalid: spec.foo: Invalid value: "bar": demo'
    )
    assert status["details"]["causes"] == [
        {"reason": "FieldValueInvalid", "message": 'Invalid value: "bar": demo', "field": "spec.foo"}
    ]


def test_dry_run_does_not_persist(lab: Lab) -> None:
    co = client.CustomObjectsApi(lab.api)
    out = co.create_namespaced_custom_object(
        ISTIO, "v1", "default", "virtualservices", vs_body("v1"), dry_run="All"
    )
    assert out["metadata"]["name"] == "reviews"
    assert co.list_namespaced_custom_object(ISTIO, "v1", "default", "virtualservices")["items"] == []


def test_dynamic_client_server_side_apply(lab: Lab) -> None:
    dyn = dynamic.DynamicClient(lab.api)
    vs_res = dyn.resources.get(api_version=f"{ISTIO}/v1alpha3", kind="VirtualService")
    dyn.server_side_apply(
        vs_res, body=vs_body(), namespace="default", field_manager="bookinfo-agent", force=True
    )
    got = vs_res.get(namespace="default", name="reviews")
    assert got.spec.hosts == ["reviews"]
    dyn.server_side_apply(
        vs_res, body=vs_body(subset="v3"), namespace="default", field_manager="bookinfo-agent", force=True
    )
    items = vs_res.get(namespace="default").items
    assert [i.spec.http[0].route[0].destination.subset for i in items] == ["v3"]
    pods = dyn.resources.get(api_version="v1", kind="Pod")
    assert pods.get(namespace="default").items == []


def test_hpa_served_as_v1_and_v2(lab: Lab) -> None:
    v1 = client.AutoscalingV1Api(lab.api)
    hpa = client.V1HorizontalPodAutoscaler(
        metadata=client.V1ObjectMeta(name="reviews-v1"),
        spec=client.V1HorizontalPodAutoscalerSpec(
            scale_target_ref=client.V1CrossVersionObjectReference(
                kind="Deployment", name="reviews-v1", api_version="apps/v1"
            ),
            min_replicas=1,
            max_replicas=10,
            target_cpu_utilization_percentage=50,
        ),
    )
    created = v1.create_namespaced_horizontal_pod_autoscaler("default", hpa)
    assert created.spec.target_cpu_utilization_percentage == 50
    stored = lab.call(lab.store.get, "HorizontalPodAutoscaler", "default", "reviews-v1")
    assert stored["apiVersion"] == "autoscaling/v2"
    assert stored["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 50
    v2 = client.AutoscalingV2Api(lab.api).read_namespaced_horizontal_pod_autoscaler("reviews-v1", "default")
    assert v2.spec.metrics[0].resource.target.average_utilization == 50


def test_unauthorized_without_or_with_wrong_token(lab: Lab) -> None:
    cfg = client.Configuration()
    cfg.host = lab.server.url
    cfg.ssl_ca_cert = str(lab.tmp / "certs" / "cert.pem")
    for token in (None, "wrong"):
        if token:
            cfg.api_key = {"authorization": token}
            cfg.api_key_prefix = {"authorization": "Bearer"}
        with client.ApiClient(cfg) as api, pytest.raises(ApiException) as exc:
            client.CoreV1Api(api).list_namespaced_pod("default")
        assert exc.value.status == 401 and status_body(exc.value)["reason"] == "Unauthorized"


def test_server_side_apply_drops_fields_the_same_manager_no_longer_applies(lab: Lab) -> None:
    """Re-applying the VirtualService without `mirror` must drop the mirror (managedFields semantics)."""
    api = client.CustomObjectsApi(lab.api)
    args = ("networking.istio.io", "v1beta1", "default", "virtualservices", "reviews")
    mirrored = {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": "reviews", "annotations": {"team": "a"}},
        "spec": {
            "hosts": ["reviews"],
            "http": [
                {
                    "route": [{"destination": {"host": "reviews", "subset": "v1"}}],
                    "mirror": {"host": "reviews", "subset": "v2"},
                }
            ],
        },
    }
    plain = {
        **mirrored,
        "metadata": {"name": "reviews"},
        "spec": {
            "hosts": ["reviews"],
            "http": [{"route": [{"destination": {"host": "reviews", "subset": "v3"}}]}],
        },
    }
    for body in (mirrored, plain):
        api.patch_namespaced_custom_object(
            *args,
            body=body,
            field_manager="harness",
            force=True,
            _content_type="application/apply-patch+yaml",
        )
    live = api.get_namespaced_custom_object(*args)
    assert "mirror" not in live["spec"]["http"][0]
    assert "team" not in (live["metadata"].get("annotations") or {})
