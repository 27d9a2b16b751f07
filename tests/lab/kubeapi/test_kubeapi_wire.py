"""Raw HTTP against the API server: discovery/OpenAPI shapes, bad input → 4xx Status, watch streams."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import urllib3
from kubeapi_lab import Lab, make_pod

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
VS_URL = "/apis/networking.istio.io/v1alpha3/namespaces/default/virtualservices"
VS = {
    "apiVersion": "networking.istio.io/v1alpha3",
    "kind": "VirtualService",
    "metadata": {"name": "reviews"},
    "spec": {"hosts": ["reviews"]},
}


class Wire:
    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.http = urllib3.PoolManager(ca_certs=str(lab.tmp / "certs" / "cert.pem"), retries=False)

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        ct: str | None = "application/json",
        accept: str = "application/json",
        token: str | None = "",
        timeout: float = 10,
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {"Accept": accept}
        tok = self.lab.server.config.token if token == "" else token
        if tok is not None:
            headers["Authorization"] = f"Bearer {tok}"
        if ct:
            headers["Content-Type"] = ct
        data = (
            body
            if isinstance(body, bytes) or body is None
            else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
        )
        r = self.http.request(method, self.lab.server.url + path, body=data, headers=headers, timeout=timeout)
        return r.status, dict(r.headers), r.data

    def json(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        status, _, data = self(method, path, body, **kw)
        return status, json.loads(data)


@pytest.fixture
def wire(lab: Lab) -> Wire:
    return Wire(lab)


def test_version_and_discovery(wire: Wire) -> None:
    status, version = wire.json("GET", "/version?timeout=5s", token=None)
    assert status == 200 and version["minor"] == "32" and version["gitVersion"].startswith("v1.32.")
    assert wire.json("GET", "/api")[1]["versions"] == ["v1"]
    groups = {g["name"]: g for g in wire.json("GET", "/apis")[1]["groups"]}
    assert groups["networking.istio.io"]["preferredVersion"]["version"] == "v1"
    assert [v["version"] for v in groups["networking.istio.io"]["versions"]] == ["v1", "v1beta1", "v1alpha3"]
    assert groups["autoscaling"]["preferredVersion"]["version"] == "v2"
    core = {r["name"]: r for r in wire.json("GET", "/api/v1")[1]["resources"]}
    assert core["pods"]["shortNames"] == ["po"] and core["pods/log"]["verbs"] == ["get"]
    assert core["namespaces"]["namespaced"] is False and core["services"]["shortNames"] == ["svc"]
    apps = {r["name"]: r for r in wire.json("GET", "/apis/apps/v1")[1]["resources"]}
    assert apps["deployments"]["shortNames"] == ["deploy"] and "deployments/scale" in apps
    istio = {r["name"]: r for r in wire.json("GET", "/apis/networking.istio.io/v1alpha3")[1]["resources"]}
    assert {
        istio[p]["shortNames"][0]
        for p in ("gateways", "virtualservices", "destinationrules", "serviceentries")
    } == {"gw", "vs", "dr", "se"}
    assert wire.json("GET", "/apis/networking.istio.io/v1beta3")[0] == 404
    status, headers, data = wire(
        "GET",
        "/apis",
        accept="application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
    )
    assert headers["Content-Type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    assert json.loads(data)["items"][-1]["metadata"]["name"] == "networking.istio.io"


def test_openapi_v3(wire: Wire) -> None:
    index = wire.json("GET", "/openapi/v3")[1]["paths"]
    assert set(index) >= {
        "api/v1",
        "apis/apps/v1",
        "apis/autoscaling/v1",
        "apis/autoscaling/v2",
        "apis/networking.istio.io/v1",
        "apis/networking.istio.io/v1beta1",
        "apis/networking.istio.io/v1alpha3",
    }
    doc = wire.json("GET", index["apis/networking.istio.io/v1alpha3"]["serverRelativeURL"])[1]
    patch = doc["paths"]["/apis/networking.istio.io/v1alpha3/namespaces/{namespace}/virtualservices/{name}"][
        "patch"
    ]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "networking.istio.io",
        "version": "v1alpha3",
        "kind": "VirtualService",
    }
    assert {"name": "fieldValidation", "in": "query"}.items() <= patch["parameters"][0].items()
    assert wire("GET", "/openapi/v3/apis/nope/v1")[0] == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "ct", "code", "reason", "message"),
    [
        (
            "POST",
            VS_URL,
            "{not json",
            "application/json",
            400,
            "BadRequest",
            "the body of the request was in an unknown format",
        ),
        ("POST", VS_URL, "[1, 2]", "application/json", 400, "BadRequest", "expected a JSON object"),
        ("POST", VS_URL, "a: [b", "application/yaml", 400, "BadRequest", "error decoding YAML"),
        (
            "POST",
            VS_URL,
            b"k8s\x00\xff\xff",
            "application/vnd.kubernetes.protobuf",
            400,
            "BadRequest",
            "unknown format",
        ),
        ("POST", VS_URL, "{}", "application/x-thing", 415, "UnsupportedMediaType", "x-thing"),
        (
            "POST",
            VS_URL,
            {**VS, "apiVersion": "networking.istio.io/v1"},
            "application/json",
            400,
            "BadRequest",
            "does not match the expected API version",
        ),
        (
            "POST",
            VS_URL,
            {**VS, "kind": "Gateway"},
            "application/json",
            400,
            "BadRequest",
            "does not match the expected kind",
        ),
        (
            "POST",
            VS_URL,
            {**VS, "metadata": {"name": "x", "namespace": "other"}},
            "application/json",
            400,
            "BadRequest",
            "does not match the namespace",
        ),
        (
            "POST",
            VS_URL,
            {**VS, "metadata": {"name": "Bad_Name"}},
            "application/json",
            422,
            "Invalid",
            "metadata.name",
        ),
        (
            "POST",
            VS_URL,
            {**VS, "metadata": {}},
            "application/json",
            422,
            "Invalid",
            "name or generateName is required",
        ),
        (
            "POST",
            VS_URL + "?fieldValidation=Strict",
            {**VS, "spek": {}},
            "application/json",
            400,
            "BadRequest",
            'unknown field "spek"',
        ),
        ("POST", VS_URL + "?dryRun=Some", VS, "application/json", 400, "BadRequest", "dry run"),
        ("PUT", VS_URL, VS, "application/json", 405, "MethodNotAllowed", "does not allow"),
        ("GET", VS_URL + "?labelSelector=app%20in%20(a", None, None, 400, "BadRequest", "unable to parse"),
        (
            "GET",
            VS_URL + "?fieldSelector=metadata.name",
            None,
            None,
            400,
            "BadRequest",
            "invalid field selector",
        ),
        (
            "GET",
            VS_URL + "?watch=true&resourceVersion=abc",
            None,
            None,
            400,
            "BadRequest",
            "invalid resourceVersion",
        ),
        (
            "GET",
            "/apis/networking.istio.io/v1beta3/namespaces/default/virtualservices",
            None,
            None,
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
        ("GET", "/apis/widgets.example.com/v1/widgets", None, None, 404, "NotFound", "could not find"),
        ("GET", "/api/v1/namespaces/default/pods/x/exec", None, None, 404, "NotFound", "could not find"),
        ("GET", "/api/v1/pods/x", None, None, 404, "NotFound", "could not find"),
        ("GET", "/nonsense/path", None, None, 404, "NotFound", "could not find"),
        (
            "GET",
            VS_URL + "/missing",
            None,
            None,
            404,
            "NotFound",
            'virtualservices.networking.istio.io "missing" not found',
        ),
        (
            "DELETE",
            "/api/v1/namespaces/default/pods/missing",
            "{oops",
            "application/json",
            400,
            "BadRequest",
            "unknown format",
        ),
    ],
)
def test_bad_requests_answer_status(
    wire: Wire, method: str, path: str, body: Any, ct: str | None, code: int, reason: str, message: str
) -> None:
    status, payload = wire.json(method, path, body, ct=ct)
    assert status == code, payload
    assert payload["kind"] == "Status" and payload["code"] == code and payload["reason"] == reason
    assert message in payload["message"]
    assert wire.json("GET", "/version")[0] == 200  # still serving


def test_object_level_errors(wire: Wire) -> None:
    status, created = wire.json("POST", VS_URL, VS)
    assert status == 201
    url = f"{VS_URL}/reviews"
    for body, ct, code, text in [
        (
            {**created, "metadata": {**created["metadata"], "resourceVersion": "abc"}},
            "application/json",
            400,
            "invalid resourceVersion",
        ),
        (
            {**created, "metadata": {**created["metadata"], "resourceVersion": "999"}},
            "application/json",
            409,
            "the object has been modified",
        ),
        (
            {**created, "metadata": {**created["metadata"], "name": "other"}},
            "application/json",
            400,
            "does not match the name",
        ),
    ]:
        status, payload = wire.json("PUT", url, body, ct=ct)
        assert (status, payload["code"]) == (code, code) and text in payload["message"]
    for body, ct, code in [
        ("{bad", "application/merge-patch+json", 400),
        ('{"op": "add"}', "application/json-patch+json", 400),
        ('[{"op": "frobnicate", "path": "/x"}]', "application/json-patch+json", 400),
        ('[{"op": "remove", "path": "/spec/nope"}]', "application/json-patch+json", 422),
        ('{"spec": {}}', "application/strategic-merge-patch+json", 415),
        ('{"spec": {}}', "text/plain", 415),
        ("kind: [", "application/apply-patch+yaml", 400),
        ('{"spec": {}}', "application/apply-patch+yaml", 400),  # no apiVersion/kind
        ('{"metadata": {"name": "renamed"}}', "application/merge-patch+json", 400),
    ]:
        status, payload = wire.json("PATCH", url, body, ct=ct)
        assert (status, payload["kind"]) == (code, "Status"), (body, payload)
    assert wire.json("PATCH", url, '{"spec": {"hosts": ["a"]}}', ct="application/merge-patch+json")[0] == 200
    # server-side apply in YAML
    yaml_body = (
        "apiVersion: networking.istio.io/v1alpha3\nkind: VirtualService\n"
        "metadata:\n  name: reviews\nspec:\n  gateways: [mesh]\n"
    )
    status, applied = wire.json(
        "PATCH", url + "?fieldManager=x&force=true", yaml_body, ct="application/apply-patch+yaml"
    )
    assert status == 200 and applied["spec"] == {"hosts": ["a"], "gateways": ["mesh"]}
    status, deleted = wire.json("DELETE", url, {"propagationPolicy": "Background"})
    assert status == 200 and deleted["metadata"]["name"] == "reviews"
    assert wire.json("DELETE", url)[0] == 404


def test_unauthorized(wire: Wire) -> None:
    for token in (None, "nope"):
        status, payload = wire.json("GET", "/api/v1/namespaces/default/pods", token=token)
        assert status == 401 and payload["reason"] == "Unauthorized"
    assert wire.json("GET", "/version", token="nope")[0] == 401


def test_tables_for_vs_and_object(wire: Wire) -> None:
    wire.json(
        "POST",
        VS_URL,
        {
            **VS,
            "spec": {"hosts": ["reviews"], "gateways": ["bookinfo-gateway"]},
            "metadata": {"name": "reviews", "labels": {"app": "reviews"}},
        },
    )
    status, table = wire.json("GET", VS_URL.replace("v1alpha3", "v1"), accept=TABLE)
    assert status == 200 and table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Gateways", "Hosts", "Age"]
    row = table["rows"][0]
    assert row["cells"] == ["reviews", '["bookinfo-gateway"]', '["reviews"]', "0s"]
    assert row["object"]["kind"] == "PartialObjectMetadata" and row["object"]["metadata"]["labels"] == {
        "app": "reviews"
    }
    status, table = wire.json("GET", "/api/v1/namespaces/default", accept=TABLE)
    assert table["rows"][0]["cells"] == ["default", "Active", "0s"]
    status, plain = wire.json("GET", VS_URL.replace("v1alpha3", "v1beta1"))
    assert (
        plain["kind"] == "VirtualServiceList"
        and plain["items"][0]["apiVersion"] == "networking.istio.io/v1beta1"
    )
    assert int(plain["metadata"]["resourceVersion"]) >= 1


def _watch_lines(wire: Wire, path: str, accept: str = "application/json") -> list[dict[str, Any]]:
    status, headers, data = wire("GET", path, accept=accept, ct=None, timeout=15)
    assert status == 200 and headers.get("Transfer-Encoding") == "chunked"
    return [json.loads(line) for line in data.decode().splitlines() if line]


def test_watch_streams_and_resumes(wire: Wire, lab: Lab) -> None:
    lab.call(lab.store.create, make_pod("a"))
    rv = lab.call(lambda: lab.store.resource_version)

    def later() -> None:
        time.sleep(0.3)
        lab.call(lab.store.create, make_pod("b", app="reviews"))
        lab.call(lab.store.set_status, "Pod", "default", "b", {"phase": "Running"})
        lab.call(lab.store.create, make_pod("c", app="other"))
        lab.call(lab.store.delete, "Pod", "default", "b")

    threading.Thread(target=later, daemon=True).start()
    events = _watch_lines(wire, "/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=2")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "a"),
        ("ADDED", "b"),
        ("MODIFIED", "b"),
        ("ADDED", "c"),
        ("DELETED", "b"),
    ]
    # resume from an old resourceVersion, filtered by label selector, as Tables
    events = _watch_lines(
        wire,
        f"/api/v1/namespaces/default/pods?watch=1&resourceVersion={rv}&labelSelector=app%3Dreviews&timeoutSeconds=1",
        accept=TABLE,
    )
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert events[0]["object"]["kind"] == "Table" and events[0]["object"]["rows"][0]["cells"][0] == "b"
    assert events[0]["object"]["columnDefinitions"] and events[1]["object"]["columnDefinitions"] == []
    # field selector as kubectl delete's wait uses it
    events = _watch_lines(
        wire,
        f"/api/v1/namespaces/default/pods?watch=true&resourceVersion={rv}"
        "&fieldSelector=metadata.name%3Dc&timeoutSeconds=1",
    )
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "c")]


def test_events_field_selector(wire: Wire, lab: Lab) -> None:
    ev = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "e1", "namespace": "default"},
        "involvedObject": {"kind": "VirtualService", "name": "reviews", "namespace": "default"},
        "reason": "Applied",
        "message": "ok",
        "type": "Normal",
    }
    assert wire.json("POST", "/api/v1/namespaces/default/events", ev)[0] == 201
    sel = "involvedObject.kind%3DVirtualService%2CinvolvedObject.name%3Dreviews"
    assert len(wire.json("GET", f"/api/v1/namespaces/default/events?fieldSelector={sel}")[1]["items"]) == 1
    sel = "involvedObject.kind%3DVirtualService%2CinvolvedObject.name%3Dratings"
    assert wire.json("GET", f"/api/v1/namespaces/default/events?fieldSelector={sel}")[1]["items"] == []


def test_status_and_scale_subresources(wire: Wire, lab: Lab) -> None:
    from kubeapi_lab import make_deployment

    lab.call(lab.store.create, make_deployment("reviews-v1", "reviews"))
    url = "/apis/apps/v1/namespaces/default/deployments/reviews-v1"
    status, scale = wire.json("GET", url + "/scale")
    assert (
        scale["kind"] == "Scale"
        and scale["spec"]["replicas"] == 1
        and scale["status"]["selector"] == "app=reviews,version=v1"
    )
    status, scale = wire.json("PUT", url + "/scale", {**scale, "spec": {"replicas": 4}})
    assert status == 200 and scale["spec"]["replicas"] == 4
    assert (
        wire.json("PATCH", url + "/scale", {"spec": {"replicas": -1}}, ct="application/merge-patch+json")[0]
        == 422
    )
    status, dep = wire.json(
        "PATCH", url + "/status", {"status": {"readyReplicas": 0}}, ct="application/merge-patch+json"
    )
    assert status == 200 and dep["status"]["readyReplicas"] == 0 and dep["spec"]["replicas"] == 4
    # a main-resource write cannot change status
    status, dep = wire.json("PATCH", url, {"status": {"readyReplicas": 9}}, ct="application/merge-patch+json")
    assert dep["status"]["readyReplicas"] == 0
