"""A lab with a real Prometheus scraping it (module scope: one Prometheus per test module)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.lab import prometheus
from harness.lab.lab import Lab, LabOptions, LabThread
from harness.metrics import PrometheusMetrics


@pytest.fixture(scope="module")
def prom_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LabThread, Lab, PrometheusMetrics]]:
    if prometheus.find_binary() is None:
        pytest.skip("the prometheus binary is not installed (Debian package `prometheus`)")
    state: Path = tmp_path_factory.mktemp("prom-lab")
    runner = LabThread(LabOptions(seed=11, state_dir=state))
    with runner as lab:
        server = runner.call(prometheus.start(lab), timeout=60)
        yield runner, lab, PrometheusMetrics(server.url, scrape_wait_s=20)
