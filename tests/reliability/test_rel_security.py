"""Security: loopback listeners, the API needs the token, kubeconfig 0600, no token in any output, the driver
sends only to the configured gateway within its budgets, and no shell strings anywhere in the code."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import ssl
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from _relsupport import cli, cluster_run, reply, tiny_server

from harness.drivers.aio import DriveConfig, drive
from harness.lab.lab import LabInfo
from harness.lab.process import LabProcess
from harness.paths import ROOT, SCENARIOS_DIR

REPO = ROOT.parent


@pytest.fixture(scope="module")
def lab() -> Iterator[tuple[LabInfo, LabProcess]]:
    process = LabProcess(seed=4, with_bookinfo=True)
    with process as info:
        yield info, process


def _listening_addresses(pid: int) -> set[str]:
    """host:port of every TCP socket the process listens on (its fds matched against /proc/net/tcp*)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    out = set()
    for table, width in (("tcp", 8), ("tcp6", 32)):
        with open(f"/proc/net/{table}") as handle:
            next(handle)
            for line in handle:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state != "0A" or inode not in inodes:  # 0A = LISTEN
                    continue
                address, port = local.split(":")
                if width == 8:
                    host = ".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0))
                else:
                    host = address
                out.add(f"{host}:{int(port, 16)}")
    return out


def test_every_lab_listener_is_on_loopback(lab) -> None:  # type: ignore[no-untyped-def]
    info, _ = lab
    addresses = _listening_addresses(info.pid)
    # gateway, admin, API and one listener per pod (bookinfo: 6 pods)
    assert len(addresses) >= 3, addresses  # gateway, admin, API (+ pods' own listeners)
    assert all(a.startswith("127.0.0.1:") for a in addresses), addresses


def test_the_api_refuses_requests_without_the_token(lab) -> None:  # type: ignore[no-untyped-def]
    info, _ = lab
    config = yaml.safe_load(Path(info.kubeconfig).read_text())
    import base64

    ca = base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
    context = ssl.create_default_context(cadata=ca)
    with httpx.Client(base_url=info.api_url, verify=context, timeout=10) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic YTpi"}):
            for path in (
                "/api/v1/namespaces",
                "/api/v1/namespaces/default/pods",
                "/apis/apps/v1/deployments",
            ):
                response = client.get(path, headers=headers)
                assert response.status_code == 401, (path, headers, response.text)
        token = config["users"][0]["user"]["token"]
        ok = client.get("/api/v1/namespaces", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200


def test_the_kubeconfig_is_mode_0600(lab) -> None:  # type: ignore[no-untyped-def]
    info, _ = lab
    assert stat.S_IMODE(os.stat(info.kubeconfig).st_mode) == 0o600


def test_the_token_never_appears_in_logs_reports_or_errors(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    info, process = lab
    token = yaml.safe_load(Path(info.kubeconfig).read_text())["users"][0]["user"]["token"]
    assert len(token) >= 20
    document, jsonl = tmp_path / "run.json", tmp_path / "jsonl"
    outputs = []
    done = cli(
        "-v",
        *cluster_run(info.kubeconfig, str(tmp_path / "j.json")),
        "--json",
        str(document),
        "--jsonl-dir",
        str(jsonl),
        str(SCENARIOS_DIR / "10-reviews-v3.yaml"),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "DEBUG" in done.stderr  # -v was in effect
    outputs += [done.stdout, done.stderr, document.read_text()]
    outputs += [p.read_text() for p in jsonl.iterdir()]
    # errors: refused by the API (another token), TLS failure, and a restore of a missing journal
    bad = tmp_path / "kc-bad"
    config = yaml.safe_load(Path(info.kubeconfig).read_text())
    config["users"][0]["user"]["token"] = token[::-1]
    bad.write_text(yaml.safe_dump(config))
    os.chmod(bad, 0o600)
    for args in (
        (
            "-v",
            *cluster_run(str(bad), str(tmp_path / "j2")),
            "reviews-50-50",
        ),
        ("-v", "restore", "--journal", str(tmp_path / "none.json"), "--kubeconfig", info.kubeconfig),
    ):
        failed = cli(*args)
        assert failed.returncode == 3, failed.stderr
        outputs += [failed.stdout, failed.stderr]
    outputs.append(process.log_text)
    for text in outputs:
        assert token not in text
        assert token[::-1] not in text


def test_the_driver_sends_only_to_the_gateway_and_stops_at_its_budgets() -> None:
    hits = {"gateway": 0, "elsewhere": 0}

    def elsewhere(handler) -> None:  # type: ignore[no-untyped-def]
        hits["elsewhere"] += 1
        reply(handler, 200, b"<html>productpage</html>", "text/html")

    with tiny_server(elsewhere) as other:

        def gateway(handler) -> None:  # type: ignore[no-untyped-def]
            hits["gateway"] += 1
            if handler.path.startswith("/productpage"):
                handler.send_response(302)  # a redirect elsewhere is an outcome, never followed
                handler.send_header("Location", f"{other}/productpage")
                handler.send_header("Content-Length", "0")
                handler.send_header("x-envoy-upstream-service-time", "1")
                handler.end_headers()

        with tiny_server(gateway) as url:
            result = asyncio.run(
                drive(DriveConfig(base_url=url, concurrency=4, max_requests=37), lambda o: False)
            )
    assert result.sent == result.observed == 37 == hits["gateway"] and result.stopped_by == "max_requests"
    assert hits["elsewhere"] == 0

    def slow(handler) -> None:  # type: ignore[no-untyped-def]
        time.sleep(0.2)
        reply(handler, 503, b"", "text/plain")

    with tiny_server(slow) as url:
        started = time.monotonic()
        result = asyncio.run(
            drive(
                DriveConfig(base_url=url, concurrency=2, max_requests=10**6, time_budget_s=1.0),
                lambda o: False,
            )
        )
        elapsed = time.monotonic() - started
    assert result.stopped_by == "time_budget" and elapsed < 1.0 + 0.2 + 1.0
    assert result.sent <= 2 * (1.0 / 0.2 + 1)


SHELL_CALLS = {("os", "system"), ("os", "popen"), ("os", "execl"), ("os", "execlp"), ("os", "spawnl")}


def test_no_shell_strings_are_built_anywhere() -> None:
    offenders = []
    for folder in ("harness", "benchmarks", "locustfiles", "tests"):
        for path in sorted((REPO / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                    if (func.value.id, func.attr) in SHELL_CALLS:
                        offenders.append(f"{path}:{node.lineno}: {func.value.id}.{func.attr}")
                    if (
                        func.value.id == "subprocess"
                        and node.args
                        and not isinstance(
                            node.args[0], ast.List | ast.Tuple | ast.Name | ast.BinOp | ast.Starred
                        )
                    ):
                        offenders.append(f"{path}:{node.lineno}: subprocess with a string command")
                for keyword in node.keywords:
                    if keyword.arg == "shell" and not (
                        isinstance(keyword.value, ast.Constant) and keyword.value.value is False
                    ):
                        offenders.append(f"{path}:{node.lineno}: shell=")
    assert offenders == []


def test_run_documents_carry_no_kubeconfig_secrets(tmp_path: Path) -> None:
    """The run document names the target by its API URL, never by credentials (checked on the shape)."""
    from harness.report import run_document

    document = run_document([], target="cluster https://127.0.0.1:6443", seed=None)
    assert json.loads(json.dumps(document)) == {
        "target": "cluster https://127.0.0.1:6443",
        "seed": None,
        "scenarios": [],
    }
