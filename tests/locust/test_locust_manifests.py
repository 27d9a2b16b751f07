"""manifests/locust/: no sidecars, volumes that mount every ConfigMap file, and a ConfigMap that is current
and runs on its own (Locust from the extracted files, without the installed harness)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from _locustlab import apply_scenario, locust_env

from harness.drivers.locust import manifests
from harness.paths import MANIFESTS_DIR

DIR = MANIFESTS_DIR / "locust"


def _docs(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((DIR / name).read_text()) if d]


def test_configmap_is_current_and_complete() -> None:
    assert manifests.main(["--check"]) == 0, "run: python -m harness.drivers.locust.manifests"
    (configmap,) = _docs("configmap.yaml")
    assert configmap["metadata"]["namespace"] == manifests.NAMESPACE
    assert set(configmap["data"]) == {manifests.key_for(p) for p in manifests.FILES}


def test_namespace_and_workloads_run_without_sidecars() -> None:
    (namespace,) = _docs("namespace.yaml")
    assert namespace["metadata"]["labels"]["istio-injection"] == "disabled"
    deployments = [
        d for name in ("master.yaml", "worker.yaml") for d in _docs(name) if d["kind"] == "Deployment"
    ]
    assert {d["metadata"]["name"] for d in deployments} == {"locust-master", "locust-worker"}
    for deployment in deployments:
        assert deployment["metadata"]["namespace"] == namespace["metadata"]["name"]
        template = deployment["spec"]["template"]
        assert template["metadata"]["annotations"]["sidecar.istio.io/inject"] == "false"
        (volume,) = template["spec"]["volumes"]
        assert volume["configMap"]["name"] == manifests.NAME
        assert volume["configMap"]["items"] == manifests.volume_items()
        (container,) = template["spec"]["containers"]
        assert container["args"][:2] == ["-f", f"{manifests.MOUNT}/bookinfo.py"]
        assert {"name": "PYTHONPATH", "value": manifests.MOUNT} in container["env"]
    worker = next(d for d in deployments if d["metadata"]["name"] == "locust-worker")
    args = worker["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--worker" in args and args[args.index("--master-host") + 1] == "locust-master"
    service = next(d for d in _docs("master.yaml") if d["kind"] == "Service")
    assert {p["port"] for p in service["spec"]["ports"]} == {5557, 8089}


def test_the_mounted_files_run_on_their_own(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Lay the ConfigMap out as the volume does and run Locust from it, with the files first on sys.path."""
    apply_scenario(lab, "reviews-v3", setup=False)
    (configmap,) = _docs("configmap.yaml")
    mount = tmp_path / "mnt"
    for item in manifests.volume_items():
        target = mount / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(configmap["data"][item["key"]])
    env = {
        **locust_env(),
        "PYTHONPATH": str(mount),
        "LOCUST_BOOKINFO_EXPECT": "v3=1",
        "LOCUST_HOST": lab.gateway_url,
    }
    where = subprocess.run(
        [sys.executable, "-c", "import harness.drivers.locust.tracker as t; print(t.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert where.strip().startswith(str(mount))
    out = tmp_path / "verdict.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(mount / "bookinfo.py"),
            "--headless",
            "-u",
            "4",
            "-r",
            "4",
            "-t",
            "20s",
            "--only-summary",
            "--skip-log-setup",
            "--verdict-json",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(out.read_text())["scenarios"][0]["verdict"] == "PASS"
    assert os.path.exists(mount / "harness" / "drivers" / "locust" / "plugin.py")
