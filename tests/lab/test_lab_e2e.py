"""The whole lab from the outside: the exercise's manifests applied with the kubernetes client and with the
real kubectl, pods serving Bookinfo through the gateway, injection, rollouts, logs, metrics."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.classify import classify_response
from harness.kube import KubeClient
from harness.lab.injection import inject_objects
from harness.lab.lab import Lab, LabOptions, LabThread
from harness.manifests import load_manifest_file
from harness.paths import MANIFESTS_DIR as M

POD_NAME = re.compile(
    r"^(?P<deploy>[a-z0-9-]+)-[bcdfghjklmnpqrstvwxz2456789]{10}-[bcdfghjklmnpqrstvwxz2456789]{5}$"
)
KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="the kubectl binary is not installed")


@pytest.fixture(params=["memory", "tcp"])
def lab(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[LabThread, Lab]]:
    """Each test runs with mesh hops in process and over loopback sockets: the behaviour must not differ."""
    runner = LabThread(LabOptions(seed=7, state_dir=tmp_path / "lab", transport=request.param))
    with runner as lab:
        yield runner, lab


def wait_for(predicate, timeout_s: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout_s} s")


def kubectl(lab: Lab, *args: str, stdin: str | None = None, check: bool = True) -> str:
    home = Path(lab.state_dir) / "home"  # type: ignore[arg-type]
    home.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "KUBECONFIG": lab.info.kubeconfig,
        "HOME": str(home),  # type: ignore[union-attr]
        "KUBECACHEDIR": str(home / "cache"),
    }
    done = subprocess.run([KUBECTL, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60)  # type: ignore[list-item]
    if check and done.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {done.stderr}")
    return done.stdout + done.stderr


def pods(client: KubeClient) -> dict[str, dict]:
    return {p["metadata"]["name"]: p for p in client.list("Pod", "default")}


def ready(pod: dict) -> str:
    statuses = pod.get("status", {}).get("containerStatuses", [])
    return f"{sum(1 for s in statuses if s.get('ready'))}/{len(pod['spec']['containers'])}"


def test_the_kubernetes_client_applies_the_exercise_and_the_gateway_serves_bookinfo(lab) -> None:  # type: ignore[no-untyped-def]
    _, lab = lab
    client = KubeClient(kubeconfig=Path(lab.info.kubeconfig))
    for path in (M / "bookinfo.yaml", M / "bookinfo-gateway.yaml"):
        for obj in load_manifest_file(path):
            client.apply(obj, "default")
    running = wait_for(
        lambda: (p := pods(client)) and len(p) == 4 and all(ready(x) == "1/1" for x in p.values()) and p
    )
    deployments = sorted(POD_NAME.match(name).group("deploy") for name in running)  # type: ignore[union-attr]
    assert deployments == ["details-v1", "productpage-v1", "ratings-v1", "reviews-v1"]
    page = httpx.get(lab.info.gateway_url + "/productpage", timeout=10)
    outcome = classify_response(page.status_code, page.content)
    assert (outcome.version.value, outcome.state.value) == ("v1", "ok")
    assert outcome.pod is not None and outcome.pod in running
    assert httpx.get(lab.info.gateway_url + "/health", timeout=10).status_code == 404  # not exposed by the VS
    client.close()


def test_a_changed_template_rolls_the_pods_and_replicas_are_honoured(lab) -> None:  # type: ignore[no-untyped-def]
    _, lab = lab
    client = KubeClient(kubeconfig=Path(lab.info.kubeconfig))
    reviews = [
        o
        for o in load_manifest_file(M / "bookinfo.yaml")
        if o["metadata"]["name"] in ("reviews", "reviews-v1")
    ]
    for obj in reviews:
        client.apply(obj, "default")
    first = wait_for(lambda: [n for n, p in pods(client).items() if ready(p) == "1/1"])
    deployment = next(o for o in reviews if o["kind"] == "Deployment")
    deployment["spec"]["replicas"] = 2
    deployment["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "LOG_LEVEL", "value": "debug"}
    )
    client.apply(deployment, "default")
    second = wait_for(
        lambda: (
            (p := [n for n, x in pods(client).items() if ready(x) == "1/1"])
            and len(p) == 2
            and not set(p) & set(first)
            and p
        )
    )
    assert len({POD_NAME.match(n).group(0).rsplit("-", 1)[0] for n in second}) == 1  # type: ignore[union-attr]
    client.close()


def test_an_image_the_lab_does_not_emulate_gives_a_pod_that_is_not_ready_with_the_reason(lab) -> None:  # type: ignore[no-untyped-def]
    _, lab = lab
    client = KubeClient(kubeconfig=Path(lab.info.kubeconfig))
    deployment = next(
        o for o in load_manifest_file(M / "bookinfo.yaml") if o["metadata"]["name"] == "ratings-v1"
    )
    deployment["spec"]["template"]["spec"]["containers"][0]["image"] = "docker.io/library/nginx:1.27"
    client.apply(deployment, "default")
    pod = wait_for(
        lambda: next(
            (
                p
                for p in pods(client).values()
                if p["status"].get("containerStatuses")
                and p["status"]["containerStatuses"][0]["state"].get("waiting", {}).get("reason")
                == "ErrImagePull"
            ),
            None,
        )
    )
    message = pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
    assert "nginx" in message and "not a Bookinfo image" in message
    client.close()


@needs_kubectl
def test_the_exercise_commands_work_verbatim_with_kubectl(lab) -> None:  # type: ignore[no-untyped-def]
    _, lab = lab
    out = kubectl(lab, "apply", "-f", str(M / "bookinfo.yaml"))
    assert "deployment.apps/productpage-v1 created" in out and "service/details created" in out
    wait_for(lambda: kubectl(lab, "get", "pods").count("1/1") == 4)
    kubectl(lab, "apply", "-f", str(M / "bookinfo-gateway.yaml"), "-f", str(M / "destination-rule-all.yaml"))
    assert "bookinfo-gateway" in kubectl(lab, "get", "gateway")
    assert re.search(r"reviews\s+reviews\s+\d+s", kubectl(lab, "get", "destinationrule"))

    # step 5: kube-inject productpage through our inject command, piped into kubectl like the exercise
    injected = subprocess.run(
        [sys.executable, "-m", "harness.cli", "inject", "-f", "-"],
        input=(M / "bookinfo.yaml").read_text(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    out = kubectl(lab, "apply", "-l", "app=productpage", "-f", "-", stdin=injected)
    assert "deployment.apps/productpage-v1 configured" in out and "details" not in out
    table = wait_for(
        lambda: (
            (t := kubectl(lab, "get", "pods")) and re.search(r"productpage-v1-\S+\s+2/2\s+Running", t) and t
        )
    )
    assert len(re.findall(r"\s1/1\s+Running", table)) == 3

    # the namespace label injects pods created after it: delete one and its replacement is 2/2
    assert "namespace/default labeled" in kubectl(
        lab, "label", "namespace", "default", "istio-injection=enabled"
    )
    details = re.search(r"(details-v1-\S+)", kubectl(lab, "get", "pods")).group(1)  # type: ignore[union-attr]
    assert f'pod "{details}" deleted' in kubectl(lab, "delete", "pod", details)
    wait_for(lambda: re.search(r"details-v1-\S+\s+2/2\s+Running", kubectl(lab, "get", "pods")))

    # step 9: HPAs with kubectl autoscale (protobuf POST)
    assert "autoscaled" in kubectl(
        lab, "autoscale", "deployment", "reviews-v1", "--cpu-percent=50", "--min=1", "--max=10"
    )
    assert re.search(
        r"reviews-v1\s+Deployment/reviews-v1\s+cpu: <unknown>/50%\s+1\s+10", kubectl(lab, "get", "hpa")
    )

    # logs: the productpage sidecar's access log after a request through the gateway
    assert httpx.get(lab.info.gateway_url + "/productpage", timeout=10).status_code == 200
    productpage = re.search(r"(productpage-v1-\S+)", kubectl(lab, "get", "pods")).group(1)  # type: ignore[union-attr]
    log = kubectl(lab, "logs", productpage, "-c", "istio-proxy")
    assert '"GET /productpage HTTP/1.1" 200' in log and '"GET /reviews/0 HTTP/1.1" 200' in log
    assert "ingressgateway" in kubectl(lab, "get", "svc", "-n", "istio-system")
    assert "http2" not in kubectl(lab, "get", "pods", "-n", "istio-system")


def test_metrics_report_each_hop_at_source_and_destination(lab) -> None:  # type: ignore[no-untyped-def]
    runner, lab = lab
    runner.run(lab.apply_files, [M / "bookinfo-gateway.yaml"])
    runner.run(lab.apply_objects, inject_objects(load_manifest_file(M / "bookinfo.yaml")))
    runner.call(lab.settle())
    for _ in range(5):
        assert httpx.get(lab.info.gateway_url + "/productpage", timeout=10).status_code == 200
    text = httpx.get(lab.info.metrics_url, timeout=10).text
    assert re.search(
        r'istio_requests_total\{[^}]*reporter="destination"[^}]*destination_workload="reviews-v1"', text
    )
    assert re.search(
        r'istio_requests_total\{[^}]*reporter="source"[^}]*source_workload="istio-ingressgateway"', text
    )
    assert 'response_flags="-"' in text
