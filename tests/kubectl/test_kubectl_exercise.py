"""The exercise's commands, verbatim, with the real kubectl against the lab's kubeconfig.

The commands run through `bash -c` in a folder laid out like the exercise's ServiceMesh bundle
(bookinfo/*.yaml next to the gateway, destination-rule and virtual-service files), with the venv's bin
first on PATH so that `bookinfo-harness inject` stands where the sheet has `istioctl kube-inject`. The
steps build on each other (one lab per module, run in file order), and their output is checked as kubectl
prints it: the server's Table columns (READY 2/2, AGE, HOSTS ...) and the apply/label/delete messages.
"""

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

from harness.lab.lab import Lab, LabOptions, LabThread
from harness.paths import MANIFESTS_DIR

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(
    KUBECTL is None, reason="the kubectl binary is not installed (CI installs it; see .ci/run)"
)
VENV_BIN = Path(sys.executable).parent
AGE = r"\d+(?:s|m\d*s?)"  # kubectl's short ages: 5s, 2m3s, 7m
BUNDLE = {
    "bookinfo/bookinfo.yaml": "bookinfo.yaml",
    "bookinfo/reviews-v2.yaml": "reviews-v2.yaml",
    "bookinfo/reviews-v3.yaml": "reviews-v3.yaml",
    "bookinfo-gateway.yaml": "bookinfo-gateway.yaml",
    "destination-rule-all.yaml": "destination-rule-all.yaml",
    "virtual-service-all-v1.yaml": "virtual-service-all-v1.yaml",
    "virtual-service-reviews-50-50.yaml": "virtual-service-reviews-50-50.yaml",
    "virtual-service-reviews-v3.yaml": "virtual-service-reviews-v3.yaml",
    "virtual-service-mirroring.yaml": "virtual-service-mirroring.yaml",
}


class Shell:
    """`bash -c` in the bundle folder with the lab's kubeconfig and a private HOME (kubectl's cache)."""

    def __init__(self, lab: Lab, cwd: Path) -> None:
        assert lab.info is not None
        home = cwd.parent / "home"
        home.mkdir(exist_ok=True)
        self.cwd = cwd
        self.env = {
            **os.environ,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "KUBECONFIG": lab.info.kubeconfig,
            "HOME": str(home),
            "KUBECACHEDIR": str(home / "cache"),
        }

    def __call__(self, command: str, *, check: bool = True) -> str:
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"`{command}` exited {done.returncode}: {done.stderr}")
        return done.stdout + done.stderr

    def table(self, command: str) -> list[list[str]]:
        """kubectl's table as rows of cells (header first); cells are separated by two or more spaces."""
        return [re.split(r"\s{2,}", line.strip()) for line in self(command).splitlines() if line.strip()]

    def wait_table(self, command: str, ready, timeout_s: float = 20.0) -> list[list[str]]:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout_s
        while True:
            rows = self.table(command)
            if ready(rows):
                return rows
            if time.monotonic() > deadline:
                raise AssertionError(f"`{command}` never showed the expected rows: {rows}")
            time.sleep(0.1)


@pytest.fixture(scope="module")
def sh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Shell, Lab]]:
    root = tmp_path_factory.mktemp("kubectl")
    bundle = root / "ServiceMesh"
    for dest, source in BUNDLE.items():
        (bundle / dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(MANIFESTS_DIR / source, bundle / dest)
    with LabThread(LabOptions(seed=5, state_dir=root / "lab")) as lab:
        yield Shell(lab, bundle), lab


def pods_by_deployment(rows: list[list[str]]) -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = {}
    for row in rows[1:]:
        out.setdefault(row[0].rsplit("-", 2)[0], []).append(row)
    return out


def all_running(rows: list[list[str]], ready: str, deployments: set[str]) -> bool:
    pods = pods_by_deployment(rows)
    return set(pods) == deployments and all(
        len(group) == 1 and group[0][1:3] == [ready, "Running"] for group in pods.values()
    )


BASE = {"details-v1", "productpage-v1", "ratings-v1", "reviews-v1"}


def test_step1_apply_bookinfo_and_get_pods(sh) -> None:  # type: ignore[no-untyped-def]
    run, _ = sh
    assert run("kubectl apply -f bookinfo/bookinfo.yaml").splitlines() == [
        "service/details created",
        "serviceaccount/bookinfo-details created",
        "deployment.apps/details-v1 created",
        "service/ratings created",
        "serviceaccount/bookinfo-ratings created",
        "deployment.apps/ratings-v1 created",
        "service/reviews created",
        "serviceaccount/bookinfo-reviews created",
        "deployment.apps/reviews-v1 created",
        "service/productpage created",
        "serviceaccount/bookinfo-productpage created",
        "deployment.apps/productpage-v1 created",
    ]
    rows = run.wait_table("kubectl get pods", lambda r: all_running(r, "1/1", BASE))
    assert rows[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    for row in rows[1:]:
        assert re.fullmatch(r"[a-z0-9-]+-[a-z0-9]{8,10}-[a-z0-9]{5}", row[0]) and row[3] == "0"
        assert re.fullmatch(AGE, row[4]), row


def test_step2_gateway_and_the_ingress_service(sh) -> None:  # type: ignore[no-untyped-def]
    run, lab = sh
    assert run("kubectl apply -f bookinfo-gateway.yaml").splitlines() == [
        "gateway.networking.istio.io/bookinfo-gateway created",
        "virtualservice.networking.istio.io/bookinfo created",
    ]
    rows = run.table("kubectl get gateway")
    assert rows[0] == ["NAME", "AGE"] and rows[1][0] == "bookinfo-gateway" and re.fullmatch(AGE, rows[1][1])
    svc = run.table("kubectl get svc -n istio-system")
    assert svc[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    ingress = next(r for r in svc if r[0] == "istio-ingressgateway")
    node_port = re.search(r"\b80:(\d+)/TCP", ingress[4])
    assert node_port and lab.info.gateway_url.endswith(f":{node_port.group(1)}")
    page = httpx.get(f"{lab.info.gateway_url}/productpage", timeout=10)
    assert page.status_code == 200 and "Book Details" in page.text


def test_step4_destination_rules(sh) -> None:  # type: ignore[no-untyped-def]
    run, _ = sh
    out = run("kubectl apply -f destination-rule-all.yaml").splitlines()
    assert out == [
        f"destinationrule.networking.istio.io/{name} created"
        for name in ("productpage", "reviews", "ratings", "details")
    ]
    rows = run.table("kubectl get destinationrule")
    assert rows[0] == ["NAME", "HOST", "AGE"]
    assert sorted(r[:2] for r in rows[1:]) == [
        [n, n] for n in ("details", "productpage", "ratings", "reviews")
    ]


def test_step5_inject_productpage_through_the_pipe(sh) -> None:  # type: ignore[no-untyped-def]
    run, _ = sh
    out = run(
        "cat bookinfo/bookinfo.yaml | bookinfo-harness inject -f - | kubectl apply -l app=productpage -f -"
    )
    assert out.splitlines() == ["service/productpage unchanged", "deployment.apps/productpage-v1 configured"]
    rows = run.wait_table(
        "kubectl get pods",
        lambda r: (
            (p := pods_by_deployment(r)).get("productpage-v1")
            and len(p["productpage-v1"]) == 1
            and p["productpage-v1"][0][1:3] == ["2/2", "Running"]
            and all(len(g) == 1 for g in p.values())
        ),
    )
    assert sorted(r[1] for r in rows[1:]) == ["1/1", "1/1", "1/1", "2/2"]


def test_step6_inject_every_other_service(sh) -> None:  # type: ignore[no-untyped-def]
    run, _ = sh
    out = run(
        "cat bookinfo/bookinfo.yaml | bookinfo-harness inject -f - | kubectl apply -l app!=productpage -f -"
    )
    lines = out.splitlines()
    # `app!=productpage` also selects objects without an app label: the ServiceAccounts (labelled `account`)
    assert "serviceaccount/bookinfo-productpage unchanged" in lines
    assert {f"deployment.apps/{d} configured" for d in ("details-v1", "ratings-v1", "reviews-v1")} <= set(
        lines
    )
    assert not any(line.startswith(("deployment.apps/productpage", "service/productpage")) for line in lines)
    run.wait_table("kubectl get pods", lambda r: all_running(r, "2/2", BASE))


def test_step8_canary_versions_through_the_pipe(sh) -> None:  # type: ignore[no-untyped-def]
    run, _ = sh
    assert run(
        "cat bookinfo/reviews-v2.yaml | bookinfo-harness inject -f - | kubectl apply -f -"
    ).splitlines() == ["deployment.apps/reviews-v2 created"]
    assert run(
        "cat bookinfo/reviews-v3.yaml | bookinfo-harness inject -f - | kubectl apply -f -"
    ).splitlines() == ["deployment.apps/reviews-v3 created"]
    run.wait_table("kubectl get pods", lambda r: all_running(r, "2/2", BASE | {"reviews-v2", "reviews-v3"}))


def test_step9_autoscale_the_reviews_versions(sh) -> None:  # type: ignore[no-untyped-def]
    run, _ = sh
    for version in ("v1", "v2", "v3"):
        out = run(f"kubectl autoscale deployment reviews-{version} --cpu-percent=50 --min=1 --max=10")
        assert out.strip() == f"horizontalpodautoscaler.autoscaling/reviews-{version} autoscaled"
    rows = run.table("kubectl get hpa")
    assert rows[0] == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    assert [r[:2] for r in rows[1:]] == [
        [f"reviews-{v}", f"Deployment/reviews-{v}"] for v in ("v1", "v2", "v3")
    ]
    assert all(r[3:5] == ["1", "10"] and "/50%" in r[2] for r in rows[1:])


def test_steps10_to_13_virtual_services(sh) -> None:  # type: ignore[no-untyped-def]
    run, _ = sh
    assert run("kubectl apply -f virtual-service-all-v1.yaml").splitlines() == [
        f"virtualservice.networking.istio.io/{name} created"
        for name in ("productpage", "reviews", "ratings", "details")
    ]
    rows = run.table("kubectl get virtualservice")
    assert rows[0] == ["NAME", "GATEWAYS", "HOSTS", "AGE"]
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name["bookinfo"][1:3] == ['["bookinfo-gateway"]', '["*"]']
    assert by_name["reviews"][1] == '["reviews"]' and re.fullmatch(AGE, by_name["reviews"][2])
    for name in ("virtual-service-reviews-50-50.yaml", "virtual-service-reviews-v3.yaml"):
        assert (
            run(f"kubectl apply -f {name}").strip() == "virtualservice.networking.istio.io/reviews configured"
        )
    assert run("kubectl apply -f virtual-service-all-v1.yaml").splitlines() == [
        "virtualservice.networking.istio.io/productpage unchanged",
        "virtualservice.networking.istio.io/reviews configured",
        "virtualservice.networking.istio.io/ratings unchanged",
        "virtualservice.networking.istio.io/details unchanged",
    ]
    assert run("kubectl apply -f virtual-service-mirroring.yaml").strip() == (
        "virtualservice.networking.istio.io/reviews configured"
    )
    described = run("kubectl describe virtualservice reviews")
    assert re.search(r"Mirror:\s+Host:\s+reviews\s+Subset:\s+v2", described), described


def test_label_namespace_delete_pod_and_the_replacement_is_injected(sh) -> None:  # type: ignore[no-untyped-def]
    run, _ = sh
    # take details back out of the mesh, then let the namespace label inject its next pod
    run("cat bookinfo/bookinfo.yaml | kubectl apply -l app=details -f -")
    run.wait_table(
        "kubectl get pods -l app=details",
        lambda r: len(r) == 2 and r[1][1:3] == ["1/1", "Running"],
    )
    assert (
        run("kubectl label namespace default istio-injection=enabled").strip() == "namespace/default labeled"
    )
    rows = run.table("kubectl get namespace default --show-labels")
    assert rows[0] == ["NAME", "STATUS", "AGE", "LABELS"] and "istio-injection=enabled" in rows[1][3]
    pod = run.table("kubectl get pods -l app=details")[1][0]
    assert run(f"kubectl delete pod {pod}").strip() == f'pod "{pod}" deleted'
    rows = run.wait_table(
        "kubectl get pods -l app=details",
        lambda r: len(r) == 2 and r[1][0] != pod and r[1][1:3] == ["2/2", "Running"],
    )
    assert re.fullmatch(r"details-v1-[a-z0-9]+-[a-z0-9]{5}", rows[1][0])


def test_logs_and_describe(sh) -> None:  # type: ignore[no-untyped-def]
    run, lab = sh
    assert httpx.get(f"{lab.info.gateway_url}/productpage", timeout=10).status_code == 200
    pod = run.table("kubectl get pods -l app=productpage")[1][0]
    proxy_log = run(f"kubectl logs {pod} -c istio-proxy")
    assert '"GET /productpage HTTP/1.1" 200' in proxy_log and "outbound|9080|v1|reviews" in proxy_log
    described = run(f"kubectl describe pod {pod}")
    for field in (
        f"Name:\\s+{pod}",
        r"Namespace:\s+default",
        r"Status:\s+Running",
        r"istio-proxy:",
        r"productpage:",
    ):
        assert re.search(field, described), field
    app_log = run("kubectl logs deploy/productpage-v1 -c productpage")
    assert '"GET /productpage" 200' in app_log
