"""A real Prometheus server next to the lab: scrapes the lab's /metrics on loopback, stopped with the lab.

`start(lab)` writes a one-job configuration (scrape interval 1 s) into a temporary folder, runs the Prometheus
binary (Debian's `prometheus` package: /usr/bin/prometheus) with its TSDB in that folder and its HTTP API on a
free loopback port, waits until it reports ready and has scraped the lab once, and registers a `lab.on_stop`
hook that terminates it and removes the folder. The exercise then queries it as on a cluster:

    istio_requests_total{destination_service_namespace="default", reporter="destination"}
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from harness.errors import LabError

if TYPE_CHECKING:
    from harness.lab.lab import Lab

log = logging.getLogger(__name__)

JOB = "bookinfo-lab"
DEFAULT_BINARY = "prometheus"
STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


def find_binary(binary: str | None = None) -> str | None:
    """The Prometheus executable: `binary` if given, else $PROMETHEUS_BIN, else `prometheus` on PATH."""
    name = binary or os.environ.get("PROMETHEUS_BIN") or DEFAULT_BINARY
    return shutil.which(name)


def render_config(target: str, *, scrape_interval_s: float = 1.0, metrics_path: str = "/metrics") -> str:
    """prometheus.yml scraping one `host:port` (pure). YAML is a superset of JSON, so values are quoted."""
    interval = f"{round(scrape_interval_s * 1000)}ms"
    return (
        "global:\n"
        f'  scrape_interval: "{interval}"\n'
        f'  scrape_timeout: "{interval}"\n'
        f'  evaluation_interval: "{interval}"\n'
        "scrape_configs:\n"
        f'  - job_name: "{JOB}"\n'
        f'    metrics_path: "{metrics_path}"\n'
        "    static_configs:\n"
        f'      - targets: ["{target}"]\n'
    )


def command(binary: str, config: Path, data_dir: Path, listen: str, *, retention: str = "2h") -> list[str]:
    """The Prometheus command line (pure). Debian's binary finds its console templates under /etc itself."""
    return [
        binary,
        f"--config.file={config}",
        f"--web.listen-address={listen}",
        f"--storage.tsdb.path={data_dir}",
        f"--storage.tsdb.retention.time={retention}",
        "--log.level=warn",
    ]


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class PrometheusServer:
    """A running Prometheus: `url` is its HTTP API base (http://127.0.0.1:PORT)."""

    url: str
    process: asyncio.subprocess.Process
    workdir: Path
    log_path: Path
    scrape_interval_s: float
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def stop(self) -> None:
        proc = self.process
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


async def _wait_ready(server: PrometheusServer, timeout_s: float) -> None:
    """Ready endpoint, then one successful scrape of the lab (`up{job=...} == 1`)."""
    deadline = time.monotonic() + timeout_s
    query = f'up{{job="{JOB}"}} == 1'
    async with httpx.AsyncClient(base_url=server.url, timeout=2) as client:
        while time.monotonic() < deadline:
            if server.process.returncode is not None:
                raise LabError(
                    f"Prometheus exited with status {server.process.returncode}: {server.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError, ValueError):
                ready = await client.get("/-/ready")
                if ready.status_code == 200:
                    data = (await client.get("/api/v1/query", params={"query": query})).json()
                    if data.get("data", {}).get("result"):
                        return
            await asyncio.sleep(0.1)
    raise LabError(f"Prometheus at {server.url} did not scrape the lab within {timeout_s:.0f} s")


async def start(
    lab: Lab,
    *,
    binary: str | None = None,
    scrape_interval_s: float = 1.0,
    port: int = 0,
    workdir: Path | None = None,
    startup_timeout_s: float = STARTUP_TIMEOUT_S,
) -> PrometheusServer:
    """Start Prometheus scraping a running lab; it is stopped (and its data removed) by `lab.stop()`.

    Raises:
        LabError: no Prometheus binary, or it did not become ready and scrape the lab in time.
    """
    if lab.info is None:
        raise LabError("start the lab before its Prometheus")
    exe = find_binary(binary)
    if exe is None:
        raise LabError(
            "no Prometheus binary (install the Debian package `prometheus`, or set PROMETHEUS_BIN)"
        )
    host = lab.options.host
    scrape_target = lab.info.metrics_url.split("://", 1)[1].split("/", 1)[0]
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="bookinfo-prometheus-")
        workdir = Path(tmp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(render_config(scrape_target, scrape_interval_s=scrape_interval_s))
    log_path = workdir / "prometheus.log"
    attempts = 1 if port else 3  # a free port can be taken between the probe and Prometheus binding it
    last: LabError | None = None
    for _ in range(attempts):
        listen_port = port or _free_port(host)
        listen = f"[{host}]:{listen_port}" if ":" in host else f"{host}:{listen_port}"
        with log_path.open("ab") as log_file:
            proc = await asyncio.create_subprocess_exec(
                *command(exe, config, workdir / "data", listen),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                cwd=workdir,
                start_new_session=True,  # Ctrl-C in a terminal reaches the lab, which stops Prometheus
            )
        server = PrometheusServer(f"http://{listen}", proc, workdir, log_path, scrape_interval_s, tmp)
        try:
            await _wait_ready(server, startup_timeout_s)
        except LabError as exc:
            last = exc
            tmp_keep, server._tmp = server._tmp, None  # keep the folder for the next attempt
            await server.stop()
            server._tmp = tmp_keep
            continue
        lab.on_stop.append(server.stop)
        log.info("Prometheus %s scrapes %s every %.1f s", server.url, scrape_target, scrape_interval_s)
        return server
    if tmp is not None:
        tmp.cleanup()
    assert last is not None
    raise last
