"""Memory of a 1,000,000-request run: the harness's aio driver in this process against the static Bookinfo
page (nginx, as in bench_locust), every page classified and fed to a sequential test and a convergence trace
the way the runner feeds them, with this process's RSS sampled every 50,000 requests.

    python -m benchmarks.bench_memory                    # 1,000,000 requests (about 4 minutes)
    python -m benchmarks.bench_memory --requests 200000

The run keeps nothing per request (no JSONL log is asked for): the figures to read are the RSS after the
first sample and at the end, and the largest step between samples after the first.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_locust import _wait_http, start_static_server
from benchmarks.bench_soak import rss_kib
from harness.drivers.aio import DriveConfig, drive
from harness.htmlreport import ConvergenceTrace
from harness.model import Observation
from harness.verdict import SequentialSplitTest

SAMPLE_EVERY = 50_000
CONCURRENCY = 16


async def _run(url: str, requests: int) -> tuple[list[dict[str, float]], dict[str, int], float]:
    test = SequentialSplitTest({"v3": 1.0}, max_requests=requests)
    trace = ConvergenceTrace({"v3": 1.0})
    tally: dict[str, int] = {}
    samples: list[dict[str, float]] = []
    began = time.monotonic()
    pid = os.getpid()

    def on_observation(observation: Observation) -> bool:
        version = observation.outcome.version.value
        tally[version] = tally.get(version, 0) + 1
        trace.observe(version, test.observe(version))
        seen = sum(tally.values())
        if seen % SAMPLE_EVERY == 0:
            samples.append(
                {"requests": seen, "rss_kib": rss_kib(pid), "t_s": round(time.monotonic() - began, 1)}
            )
        return False  # keep driving after the verdict: this run measures retention, not decisions

    config = DriveConfig(
        base_url=url, concurrency=CONCURRENCY, max_requests=requests, time_budget_s=3600, request_timeout_s=10
    )
    result = await drive(config, on_observation)
    return samples, tally, result.seconds


def main(requests: int = 1_000_000) -> dict[str, Any]:
    cpus = sorted(os.sched_getaffinity(0))
    server_cpus = {cpus[0]} if len(cpus) > 1 else None
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        server, base, served_by = start_static_server(Path(tmp), server_cpus)
        try:
            if server_cpus:
                os.sched_setaffinity(0, {cpus[1]})
            _wait_http(base + "/productpage")
            samples, tally, seconds = asyncio.run(_run(base, requests))
        finally:
            server.terminate()
            server.wait()
            os.sched_setaffinity(0, set(cpus))
    rss = [s["rss_kib"] for s in samples]
    steps = [b - a for a, b in itertools.pairwise(rss)]
    return {
        "requests": sum(tally.values()),
        "served_by": served_by,
        "seconds": round(seconds, 1),
        "rps": round(sum(tally.values()) / seconds, 1),
        "versions": tally,
        "rss_kib": {"first_sample": rss[0] if rss else None, "end": rss[-1] if rss else None},
        "largest_step_kib": max(steps, default=0),
        "samples": samples,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    out = main(parser.parse_args().requests)
    print(
        f"{out['requests']} requests in {out['seconds']} s ({out['rps']} req/s, {out['served_by']}): "
        f"driver RSS {out['rss_kib']['first_sample']} KiB at {SAMPLE_EVERY} -> {out['rss_kib']['end']} KiB "
        f"at the end, largest step {out['largest_step_kib']} KiB"
    )
    print(json.dumps(out["samples"]))
