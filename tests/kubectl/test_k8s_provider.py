"""`--k8s-provider kind|k3d`: pytest-kubernetes creates a real cluster (pinned Kubernetes version) and the
exercise's first step runs on it with the real kubectl. Needs a container engine; skipped with the reason
where there is none (this machine has no Docker daemon; the e2e-kind workflow brings its own cluster)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from harness.paths import MANIFESTS_DIR

K8S_VERSION = "1.26.6"  # a release Istio 1.17 (the exercise's) supports; kindest/node and k3s both ship it


def container_engine() -> str | None:
    """Why no cluster can be made here, or None when Docker answers."""
    docker = shutil.which("docker")
    if docker is None:
        return "no docker binary"
    done = subprocess.run([docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if done.returncode != 0 or not done.stdout.strip():
        return "the Docker daemon is not reachable: " + (done.stderr.strip().splitlines() or ["?"])[-1]
    return None


@pytest.fixture
def provider_cluster(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    provider = request.config.getoption("--k8s-provider")
    if provider not in ("kind", "k3d"):
        pytest.skip("pass --k8s-provider kind|k3d to create a cluster with pytest-kubernetes")
    reason = container_engine()
    if reason:
        pytest.skip(f"--k8s-provider {provider}: {reason}")
    if shutil.which(provider) is None:
        pytest.skip(f"--k8s-provider {provider}: the {provider} binary is not installed")
    from pytest_kubernetes.options import ClusterOptions

    manager = request.getfixturevalue("k8s_manager")(provider)("bookinfo-harness")
    version = request.config.getoption("--k8s-version") or K8S_VERSION
    manager.create(ClusterOptions(api_version=version), timeout=240)
    try:
        yield manager
    finally:
        manager.delete()


def test_the_exercise_applies_on_a_provider_cluster(provider_cluster) -> None:  # type: ignore[no-untyped-def]
    kubeconfig = str(provider_cluster.kubeconfig)
    kubectl = shutil.which("kubectl") or "kubectl"

    def run(*args: str) -> str:
        done = subprocess.run(
            [kubectl, "--kubeconfig", kubeconfig, *args], capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "deployment.apps/productpage-v1 created" in run(
        "apply", "-f", str(MANIFESTS_DIR / "bookinfo.yaml")
    )
    run("wait", "--for=condition=available", "deployment", "--all", "--timeout=480s")
    table = run("get", "pods")
    assert table.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert len(re.findall(r"\s1/1\s+Running\s", table)) == 4
    assert provider_cluster.version()[1] == int((provider_cluster._cluster_options.api_version).split(".")[1])


def test_the_provider_skip_reason_names_the_missing_engine() -> None:
    reason = container_engine()
    assert reason is None or reason.startswith(("no docker", "the Docker daemon"))
