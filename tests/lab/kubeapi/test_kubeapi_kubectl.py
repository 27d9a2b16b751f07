"""The API server against the real kubectl binary (the gcloud dispatcher picks the bundled 1.32 client).

Each test gets its own HOME/KUBECACHEDIR so kubectl's discovery cache never leaks between servers.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest
from kubeapi_lab import Lab, make_deployment, make_pod, needs_kubectl

pytestmark = needs_kubectl

APP = """\
apiVersion: v1
kind: Service
metadata:
  name: reviews
  labels: {app: reviews, service: reviews}
spec:
  ports:
  - port: 9080
    name: http
  selector: {app: reviews}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: bookinfo-reviews
  labels: {account: reviews}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: reviews-v1
  labels: {app: reviews, version: v1}
spec:
  replicas: 1
  selector:
    matchLabels: {app: reviews, version: v1}
  template:
    metadata:
      labels: {app: reviews, version: v1}
    spec:
      serviceAccountName: bookinfo-reviews
      containers:
      - name: reviews
        image: docker.io/istio/examples-bookinfo-reviews-v1:1.17.0
        ports:
        - containerPort: 9080
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
        subset: v1
"""


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def table(text: str) -> list[list[str]]:
    return [line.split() for line in text.strip().splitlines()]


def test_apply_twice_then_change(lab: Lab, tmp_path: Path) -> None:
    manifest = tmp_path / "app.yaml"
    manifest.write_text(APP)
    assert ok(lab.kubectl("apply", "-f", str(manifest))).splitlines() == [
        "service/reviews created",
        "serviceaccount/bookinfo-reviews created",
        "deployment.apps/reviews-v1 created",
        "virtualservice.networking.istio.io/reviews created",
    ]
    assert all(
        line.endswith(" unchanged") for line in ok(lab.kubectl("apply", "-f", str(manifest))).splitlines()
    )
    manifest.write_text(
        APP.replace("replicas: 1", "replicas: 2")
        .replace("subset: v1", "subset: v3")
        .replace(
            "containerPort: 9080",
            "containerPort: 9080\n        env:\n        - {name: LOG_LEVEL, value: debug}",
        )
    )
    out = ok(lab.kubectl("apply", "-f", str(manifest)))
    assert "deployment.apps/reviews-v1 configured" in out
    assert "virtualservice.networking.istio.io/reviews configured" in out
    dep = lab.call(lab.store.get, "Deployment", "default", "reviews-v1")
    assert dep["spec"]["replicas"] == 2 and dep["metadata"]["generation"] == 2
    assert dep["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "LOG_LEVEL", "value": "debug"}
    ]
    assert dep["spec"]["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 9080}]
    assert "kubectl.kubernetes.io/last-applied-configuration" in dep["metadata"]["annotations"]
    vs = lab.call(lab.store.get, "VirtualService", "default", "reviews")
    assert vs["spec"]["http"][0]["route"][0]["destination"]["subset"] == "v3"
    assert vs["apiVersion"] == "networking.istio.io/v1alpha3"
    # server-side apply and a server dry run
    assert "serverside-applied" in ok(lab.kubectl("apply", "--server-side", "-f", str(manifest)))
    rv = lab.call(lambda: lab.store.resource_version)
    manifest.write_text(APP.replace("subset: v1", "subset: v2"))
    assert "(server dry run)" in ok(lab.kubectl("apply", "--dry-run=server", "-f", str(manifest)))
    assert lab.call(lambda: lab.store.resource_version) == rv


def test_unknown_istio_version_is_refused(lab: Lab, tmp_path: Path) -> None:
    manifest = tmp_path / "vs.yaml"
    manifest.write_text(APP.split("---\n")[-1].replace("v1alpha3", "v1beta3"))
    result = lab.kubectl("apply", "-f", str(manifest))
    assert result.returncode != 0
    assert 'no matches for kind "VirtualService" in version "networking.istio.io/v1beta3"' in result.stderr


def test_get_pods_table_and_wide(lab: Lab) -> None:
    lab.call(lab.store.create, make_pod("productpage-v1-6b746f74dc-abcde"))
    lab.call(
        lab.store.create,
        make_pod("reviews-v1-x", app="reviews", containers=("reviews",), ready=False, restarts=3),
    )
    rows = table(ok(lab.kubectl("get", "pods")))
    assert rows[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert rows[1] == ["productpage-v1-6b746f74dc-abcde", "2/2", "Running", "0", "0s"]
    assert rows[2] == ["reviews-v1-x", "0/1", "Running", "3", "0s"]
    wide = ok(lab.kubectl("get", "pods", "-o", "wide", "--show-labels"))
    assert "NOMINATED NODE" in wide and "10.244.0.16" in wide and "app=productpage,version=v1" in wide
    assert ok(lab.kubectl("get", "pods", "-l", "app=reviews", "-o", "name")).split() == ["pod/reviews-v1-x"]
    assert (
        ok(lab.kubectl("get", "po", "productpage-v1-6b746f74dc-abcde", "-o", "jsonpath={.status.phase}"))
        == "Running"
    )


def test_get_services_deployments_and_istio(lab: Lab, tmp_path: Path) -> None:
    lab.call(
        lab.store.create,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "istio-ingressgateway", "namespace": "istio-system"},
            "spec": {
                "type": "NodePort",
                "clusterIP": "10.96.0.10",
                "selector": {"istio": "ingressgateway"},
                "ports": [
                    {"name": "status-port", "port": 15021, "nodePort": 31234, "protocol": "TCP"},
                    {"name": "http2", "port": 80, "nodePort": 30080, "protocol": "TCP"},
                ],
            },
        },
    )
    lab.call(lab.store.create, make_deployment("reviews-v1", "reviews"))
    rows = table(ok(lab.kubectl("get", "svc", "-n", "istio-system")))
    assert rows == [
        ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
        ["istio-ingressgateway", "NodePort", "10.96.0.10", "<none>", "15021:31234/TCP,80:30080/TCP", "0s"],
    ]
    jp = '{.spec.ports[?(@.name=="http2")].nodePort}'
    assert (
        ok(lab.kubectl("-n", "istio-system", "get", "svc", "istio-ingressgateway", "-o", f"jsonpath={jp}"))
        == "30080"
    )
    assert table(ok(lab.kubectl("get", "deploy"))) == [
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        ["reviews-v1", "1/1", "1", "1", "0s"],
    ]
    gw = tmp_path / "gw.yaml"
    gw.write_text(Path(__file__).parents[3].joinpath("manifests", "bookinfo-gateway.yaml").read_text())
    ok(lab.kubectl("apply", "-f", str(gw)))
    assert table(ok(lab.kubectl("get", "gateway"))) == [["NAME", "AGE"], ["bookinfo-gateway", "0s"]]
    assert table(ok(lab.kubectl("get", "vs"))) == [
        ["NAME", "GATEWAYS", "HOSTS", "AGE"],
        ["bookinfo", '["bookinfo-gateway"]', '["*"]', "0s"],
    ]
    assert "No resources found in default namespace." in lab.kubectl("get", "dr").stderr
    out = ok(lab.kubectl("get", "vs", "bookinfo", "-o", "yaml"))
    assert "apiVersion: networking.istio.io/v1\n" in out


def test_label_namespace_and_show_labels(lab: Lab) -> None:
    assert (
        ok(lab.kubectl("label", "namespace", "default", "istio-injection=enabled")).strip()
        == "namespace/default labeled"
    )
    out = ok(lab.kubectl("get", "namespace", "default", "--show-labels"))
    assert table(out)[0] == ["NAME", "STATUS", "AGE", "LABELS"]
    assert "istio-injection=enabled" in out and "Active" in out
    assert "not labeled" in ok(
        lab.kubectl("label", "namespace", "default", "istio-injection=enabled", "--overwrite")
    )


def test_autoscale_then_get_hpa(lab: Lab) -> None:
    lab.call(lab.store.create, make_deployment("reviews-v1", "reviews"))
    out = ok(lab.kubectl("autoscale", "deployment", "reviews-v1", "--cpu-percent=50", "--min=1", "--max=10"))
    assert out.strip() == "horizontalpodautoscaler.autoscaling/reviews-v1 autoscaled"
    out = ok(lab.kubectl("get", "hpa"))
    assert table(out)[0] == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    assert "Deployment/reviews-v1   cpu: <unknown>/50%   1         10        0" in out
    stored = lab.call(lab.store.get, "HorizontalPodAutoscaler", "default", "reviews-v1")
    assert stored["spec"]["metrics"][0]["resource"]["target"] == {
        "type": "Utilization",
        "averageUtilization": 50,
    }
    assert (
        ok(lab.kubectl("get", "hpa", "reviews-v1", "-o", "jsonpath={.spec.minReplicas}/{.spec.maxReplicas}"))
        == "1/10"
    )


def test_create_deployment_in_protobuf(lab: Lab) -> None:
    assert (
        ok(lab.kubectl("create", "deployment", "web", "--image=nginx:1.27")).strip()
        == "deployment.apps/web created"
    )
    dep = lab.call(lab.store.get, "Deployment", "default", "web")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert dep["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert "deployment.apps/web scaled" in ok(lab.kubectl("scale", "deployment", "web", "--replicas=3"))
    assert "deployment.apps/web restarted" in ok(lab.kubectl("rollout", "restart", "deployment/web"))
    dep = lab.call(lab.store.get, "Deployment", "default", "web")
    assert dep["spec"]["replicas"] == 3
    assert "kubectl.kubernetes.io/restartedAt" in dep["spec"]["template"]["metadata"]["annotations"]


def test_logs_delete_and_describe(lab: Lab, tmp_path: Path) -> None:
    lab.call(lab.store.create, make_pod("productpage-v1-a"))
    lab.logs.logs[("default", "productpage-v1-a", "istio-proxy")] = "a\nb\nc\n"
    assert ok(lab.kubectl("logs", "productpage-v1-a", "-c", "istio-proxy")) == "a\nb\nc\n"
    assert ok(lab.kubectl("logs", "productpage-v1-a", "-c", "istio-proxy", "--tail=1")) == "c\n"
    bad = lab.kubectl("logs", "productpage-v1-a", "-c", "nope")
    assert bad.returncode != 0 and "container nope is not valid for pod productpage-v1-a" in bad.stderr
    assert ok(lab.kubectl("delete", "pod", "productpage-v1-a")).strip() == 'pod "productpage-v1-a" deleted'
    missing = lab.kubectl("logs", "productpage-v1-a")
    assert missing.returncode != 0 and 'pods "productpage-v1-a" not found' in missing.stderr
    manifest = tmp_path / "vs.yaml"
    manifest.write_text(APP.split("---\n")[-1])
    ok(lab.kubectl("apply", "-f", str(manifest)))
    out = ok(lab.kubectl("describe", "vs", "reviews"))
    for needle in (
        "Name:         reviews",
        "API Version:  networking.istio.io/v1",
        "Kind:         VirtualService",
        "Host:    reviews",
        "Subset:  v1",
        "Events:",
    ):
        assert needle in out


def test_errors_as_kubectl_prints_them(lab: Lab, tmp_path: Path) -> None:
    manifest = tmp_path / "vs.yaml"
    manifest.write_text(APP.split("---\n")[-1])
    ok(lab.kubectl("create", "-f", str(manifest)))
    again = lab.kubectl("create", "-f", str(manifest))
    assert "Error from server (AlreadyExists)" in again.stderr
    assert 'virtualservices.networking.istio.io "reviews" already exists' in again.stderr
    missing = lab.kubectl("get", "vs", "nope")
    assert (
        'Error from server (NotFound): virtualservices.networking.istio.io "nope" not found' in missing.stderr
    )
    unknown = lab.kubectl("get", "widgets")
    assert 'the server doesn\'t have a resource type "widgets"' in unknown.stderr


def test_get_pods_watch(lab: Lab) -> None:
    lab.call(lab.store.create, make_pod("productpage-v1-a"))

    def later() -> None:
        time.sleep(1.5)
        lab.call(lab.store.create, make_pod("reviews-v1-b", app="reviews"))
        lab.call(lab.store.delete, "Pod", "default", "productpage-v1-a")

    threading.Thread(target=later, daemon=True).start()
    result = lab.kubectl("get", "pods", "-w", "--request-timeout=4s")
    lines = [line.split() for line in result.stdout.strip().splitlines()]
    assert lines[0][:2] == ["NAME", "READY"]
    names = [line[0] for line in lines[1:]]
    assert names[:2] == ["productpage-v1-a", "reviews-v1-b"]


@pytest.mark.parametrize("token", ["wrong-token"])
def test_kubectl_unauthorized(lab: Lab, token: str) -> None:
    result = lab.kubectl("get", "pods", f"--token={token}")
    assert result.returncode != 0
    assert "You must be logged in to the server" in result.stderr
