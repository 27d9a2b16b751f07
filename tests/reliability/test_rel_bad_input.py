"""The bad-input table (docs/bad-input.md), one test per row: the CLI as a user runs it (a subprocess), one
clear line on stderr naming the file, object, field or address, the documented exit code, no traceback."""

from __future__ import annotations

import base64
import json
import os
import signal
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from _relsupport import (
    assert_one_clear_line,
    cli,
    cluster_run,
    free_port,
    journal_entries,
    reply,
    requests_served,
    start_slow_run,
    tiny_server,
    wait_for,
)

from harness.drivers.aio import MAX_BODY_BYTES, DriveConfig, drive
from harness.errors import DriverError
from harness.lab.kubeapi.server import make_certificate
from harness.lab.lab import LabInfo
from harness.lab.process import LabProcess
from harness.paths import MANIFESTS_DIR, SCENARIOS_DIR

M = MANIFESTS_DIR


@pytest.fixture(scope="module")
def lab() -> Iterator[LabInfo]:
    with LabProcess(seed=3) as info:
        yield info


def scenario(tmp_path: Path, apply: list[str] | None = None, expect: str = "{reviews: {v1: 1.0}}") -> Path:
    path = tmp_path / "scenario.yaml"
    files = ", ".join(apply or [])
    path.write_text(f"name: row\napply: [{files}]\ntraffic: {{max_requests: 200}}\nexpect: {expect}\n")
    return path


def run(kubeconfig: str | Path, tmp_path: Path, scenario_path: Path, *extra: str):  # type: ignore[no-untyped-def]
    return cli(
        *cluster_run(str(kubeconfig), str(tmp_path / "journal.json")),
        "--no-progress",
        *extra,
        str(scenario_path),
    )


# -- input: files, objects, fields (exit 2, nothing applied) -----------------------------------------------
MANIFEST_ROWS = {
    "malformed YAML": ("apiVersion: v1\nkind: [oops\n", ["bad.yaml:3:1: malformed YAML"]),
    "not a Kubernetes object": ("- just\n- a list\n", ["bad.yaml (document 1): not a Kubernetes object"]),
    "unknown kind": (
        "apiVersion: v1\nkind: Frobnicator\nmetadata: {name: x}\n",
        ['unknown kind "Frobnicator"'],
    ),
    "unknown apiVersion": (
        "apiVersion: networking.istio.io/v9\nkind: VirtualService\nmetadata: {name: x}\n",
        ['"VirtualService" in version "networking.istio.io/v9"'],
    ),
}


@pytest.mark.parametrize("row", list(MANIFEST_ROWS))
def test_a_bad_manifest_stops_the_run_before_anything_is_applied(tmp_path: Path, row: str) -> None:
    text, needles = MANIFEST_ROWS[row]
    (tmp_path / "bad.yaml").write_text(text)
    # an unreachable kubeconfig: the scenario is refused before the target is even contacted
    done = run(
        tmp_path / "no-kubeconfig", tmp_path, scenario(tmp_path, [f"{M}/bookinfo-gateway.yaml", "bad.yaml"])
    )
    line = assert_one_clear_line(done, 2, "scenario.yaml", "scenario.yaml: apply[1]", *needles)
    assert str(tmp_path / "bad.yaml") in line
    assert not (tmp_path / "journal.json").exists()


def test_a_scenario_that_references_a_missing_file(tmp_path: Path) -> None:
    done = run(tmp_path / "no-kubeconfig", tmp_path, scenario(tmp_path, ["nope.yaml"]))
    assert_one_clear_line(done, 2, "scenario.yaml: apply[0]: file 'nope.yaml' not found")


def test_expectations_that_do_not_sum_to_1(tmp_path: Path) -> None:
    path = scenario(tmp_path, [], expect="{reviews: {v1: 0.5, v3: 0.4}}")
    done = run(tmp_path / "no-kubeconfig", tmp_path, path)
    assert_one_clear_line(done, 2, "scenario.yaml: traffic.expect.reviews: shares sum to 0.9, not 1")


WEBHOOK_ROWS = {
    "unknown field in an Istio spec": ("    bogusField: 1\n", "bogusField"),
    "a negative weight": ("      weight: -10\n", "weight"),
}


@pytest.mark.parametrize("row", list(WEBHOOK_ROWS))
def test_a_spec_the_webhook_refuses(lab: LabInfo, tmp_path: Path, row: str) -> None:
    extra, field = WEBHOOK_ROWS[row]
    (tmp_path / "vs.yaml").write_text(
        "apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata: {name: reviews}\n"
        "spec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v1}\n"
        + extra
    )
    done = run(lab.kubeconfig, tmp_path, scenario(tmp_path, ["vs.yaml"]))
    assert_one_clear_line(done, 2, "VirtualService default/reviews", "(422)", "validation.istio.io", field)


# -- the gateway (exit 3) ------------------------------------------------------------------------------------
def test_an_unreachable_gateway(lab: LabInfo, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = run(lab.kubeconfig, tmp_path, scenario(tmp_path), "--gateway-url", url)
    assert_one_clear_line(done, 3, f"gateway {url} unreachable", "Connection refused")


def test_a_wrong_port_that_does_not_speak_http(lab: LabInfo, tmp_path: Path) -> None:
    url = lab.api_url.replace("https://", "http://")  # the lab's TLS API port
    done = run(lab.kubeconfig, tmp_path, scenario(tmp_path), "--gateway-url", url)
    assert_one_clear_line(done, 3, f"gateway {url} unreachable")


def test_a_gateway_url_that_is_not_a_url(lab: LabInfo, tmp_path: Path) -> None:
    done = run(lab.kubeconfig, tmp_path, scenario(tmp_path), "--gateway-url", "127.0.0.1:80")
    assert_one_clear_line(done, 2, "--gateway-url '127.0.0.1:80'")


FOREIGN = {
    "5xx to everything": (500, b"Internal Server Error\n", "text/plain", "HTTP 500 text/plain"),
    "JSON instead of pages": (200, b'{"hello": "world"}', "application/json", "HTTP 200 application/json"),
    "plain text instead of pages": (200, b"hello\n", "text/plain", "HTTP 200 text/plain"),
    "HTML that is not Bookinfo": (200, b"<html><body>nginx</body></html>", "text/html", "HTTP 200 text/html"),
}


@pytest.mark.parametrize("row", list(FOREIGN))
def test_a_gateway_that_does_not_serve_bookinfo(lab: LabInfo, tmp_path: Path, row: str) -> None:
    status, body, content_type, needle = FOREIGN[row]
    with tiny_server(lambda h: reply(h, status, body, content_type)) as url:
        done = run(lab.kubeconfig, tmp_path, scenario(tmp_path), "--gateway-url", url)
    assert_one_clear_line(done, 3, f"{url}/productpage does not serve Bookinfo", needle, "--gateway-url")


FIFTY_MB = 50 * 1024 * 1024


def _huge(handler, *, announce_length: bool) -> None:  # type: ignore[no-untyped-def]
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    if announce_length:
        handler.send_header("Content-Length", str(FIFTY_MB))
    else:
        handler.send_header("Connection", "close")  # length unknown: the body ends when the socket closes
        handler.close_connection = True
    handler.end_headers()
    chunk = b"<p>" + b"x" * (1024 * 1024 - 3)
    for _ in range(FIFTY_MB // len(chunk)):
        handler.wfile.write(chunk)


def test_a_50_mb_response_is_refused_by_the_cli(lab: LabInfo, tmp_path: Path) -> None:
    with tiny_server(lambda h: _huge(h, announce_length=False)) as url:
        done = run(lab.kubeconfig, tmp_path, scenario(tmp_path), "--gateway-url", url)
    assert_one_clear_line(
        done, 3, f"{url}/productpage does not serve Bookinfo", f"larger than {MAX_BODY_BYTES}"
    )


async def _drive_huge(url: str) -> None:
    await drive(DriveConfig(base_url=url, concurrency=2, max_requests=50, time_budget_s=30), lambda o: False)


@pytest.mark.parametrize("announce_length", [True, False], ids=["content-length", "close-delimited"])
def test_a_50_mb_response_never_sits_in_memory(announce_length: bool) -> None:
    import asyncio

    with tiny_server(lambda h: _huge(h, announce_length=announce_length)) as url:
        tracemalloc.start()
        try:
            with pytest.raises(DriverError, match="larger than"):
                asyncio.run(_drive_huge(url))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # two requests in flight, each holding at most the cap plus one read of at most the cap
    assert peak < 4 * MAX_BODY_BYTES + 2 * 1024 * 1024, peak


# -- the Kubernetes API (exit 3) -----------------------------------------------------------------------------
def _kubeconfig(
    path: Path, server: str, token: str = "fake-token-for-tests", ca: bytes | None = None
) -> Path:
    cluster: dict[str, object] = {"server": server}
    if ca is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca).decode()
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": cluster}],
                "users": [{"name": "u", "user": {"token": token}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    os.chmod(path, 0o600)
    return path


def test_tls_errors_from_a_kubeconfig_with_the_wrong_ca(lab: LabInfo, tmp_path: Path) -> None:
    _, _, other_ca = make_certificate(tmp_path / "other-pki")
    kubeconfig = _kubeconfig(tmp_path / "kc", lab.api_url, ca=other_ca)
    done = run(kubeconfig, tmp_path, scenario(tmp_path))
    assert_one_clear_line(done, 3, lab.api_url, "TLS certificate verification failed")


def test_rbac_403_from_the_kube_api(tmp_path: Path) -> None:
    status = (
        b'{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,'
        b'"message":"services \\"istio-ingressgateway\\" is forbidden: User \\"dev\\" cannot get resource '
        b'\\"services\\" in API group \\"\\" in the namespace \\"istio-system\\""}'
    )
    with tiny_server(lambda h: reply(h, 403, status, "application/json")) as url:
        done = run(_kubeconfig(tmp_path / "kc", url), tmp_path, scenario(tmp_path))
    assert_one_clear_line(done, 3, url, "refused access (403)", "cannot get resource")


def test_the_kube_api_going_away_mid_run(tmp_path: Path) -> None:
    with LabProcess(seed=5) as info:
        proc, journal, log = start_slow_run(info.kubeconfig, tmp_path)
        try:
            wait_for(lambda: any(e["applied_version"] for e in journal_entries(journal)[-1:]), 60, "applies")
            wait_for(lambda: requests_served(info.metrics_url) > 20, 60, "traffic")
            os.kill(info.pid, signal.SIGKILL)
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    output = log.read_text()
    assert "Traceback" not in output and code == 3, output
    lines = [line for line in output.splitlines() if line.startswith("bookinfo-harness: error:")]
    assert len(lines) == 1, output
    assert "cannot reach the Kubernetes API" in lines[0] and f"restore --journal {journal}" in lines[0]
    assert journal_entries(journal), "the journal keeps what could not be put back"


# -- Prometheus (exit 4) -------------------------------------------------------------------------------------
def test_prometheus_unreachable_makes_the_mirror_verdict_inconclusive(lab: LabInfo, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    document = tmp_path / "run.json"
    mirror_scenario = SCENARIOS_DIR / "11-mirror-v2.yaml"
    done = run(lab.kubeconfig, tmp_path, mirror_scenario, "--prometheus-url", url, "--json", str(document))
    assert_one_clear_line(done, 4, f"Prometheus at {url} unavailable")
    mirror = json.loads(document.read_text())["scenarios"][0]["mirror"]
    assert mirror["status"] == "INCONCLUSIVE" and f"Prometheus at {url} unavailable" in mirror["reason"]


def test_a_request_log_directory_that_cannot_be_written(lab: LabInfo, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    path = SCENARIOS_DIR / "10-reviews-v3.yaml"
    done = run(lab.kubeconfig, tmp_path, path, "--jsonl-dir", str(blocker / "logs"))
    assert_one_clear_line(done, 2, str(blocker / "logs"), "cannot write the request log")
    assert not (tmp_path / "journal.json").exists()  # what the run applied was put back
