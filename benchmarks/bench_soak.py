"""Soak: the lab at its maximum rate for a long time (default 10 minutes), driven by the harness's own
aiohttp driver from this process, with every pod injected and reviews routed to v3 (bench_lab's setup).

Reported, printed and returned as a dict: duration, requests, errors the config does not cause (anything but
a v3 page with every backend ok), and the lab process's RSS and open file descriptors at start (after a
warm-up) and at end, from /proc/<lab pid>/status and /proc/<lab pid>/fd, with a trace every 10 s. The lab's
bounded buffers (200,000 trace spans, access-log and metrics windows) fill during the first minute at this
rate, so the RSS after one minute and the growth from there to the end are reported too. The result is also
written to benchmarks/soak.json.

    python -m benchmarks.bench_soak                 # 10 minutes
    python -m benchmarks.bench_soak --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_lab import _prepare
from harness.drivers.aio import DriveConfig, drive
from harness.lab.process import LabProcess
from harness.model import Observation

CONCURRENCY = 64  # bench_lab's closed-loop peak
SLICE_S = 10.0  # one drive per slice; samples of RSS/FDs between slices


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def _slice(url: str, seconds: float, tally: dict[str, int]) -> int:
    def record(observation: Observation) -> bool:
        outcome = observation.outcome
        key = f"{outcome.version.value}/{outcome.state.value}"
        tally[key] = tally.get(key, 0) + 1
        return False

    config = DriveConfig(
        base_url=url, concurrency=CONCURRENCY, max_requests=10**9, time_budget_s=seconds, request_timeout_s=10
    )
    result = await drive(config, record)
    return result.observed


def main(seconds: float = 600.0) -> dict[str, Any]:
    with LabProcess(seed=1) as info:
        _prepare(info)
        pid = info.pid
        warm: dict[str, int] = {}
        asyncio.run(_slice(info.gateway_url, 5.0, warm))  # warm-up: pools, caches, first allocations
        start = {"rss_kib": rss_kib(pid), "fds": open_fds(pid)}
        tally: dict[str, int] = {}
        trace = []
        requests = 0
        began = time.monotonic()
        while (left := seconds - (time.monotonic() - began)) > 0.5:
            requests += asyncio.run(_slice(info.gateway_url, min(SLICE_S, left), tally))
            trace.append(
                {
                    "t_s": round(time.monotonic() - began, 1),
                    "requests": requests,
                    "rss_kib": rss_kib(pid),
                    "fds": open_fds(pid),
                }
            )
        duration = time.monotonic() - began
        end = {"rss_kib": rss_kib(pid), "fds": open_fds(pid)}
    errors = {k: v for k, v in tally.items() if k != "v3/ok"}
    after_minute = next((p for p in trace if p["t_s"] >= 60.0), trace[-1])
    minutes_after = max((duration - after_minute["t_s"]) / 60.0, 1e-9)
    return {
        "seconds": round(duration, 1),
        "requests": requests,
        "rps": round(requests / duration, 1),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "lab_rss_kib": {
            "start": start["rss_kib"],
            "at_1_min": after_minute["rss_kib"],
            "end": end["rss_kib"],
        },
        "rss_growth_after_1_min_kib_per_min": round(
            (end["rss_kib"] - after_minute["rss_kib"]) / minutes_after, 1
        ),
        "lab_fds": {"start": start["fds"], "end": end["fds"]},
        "trace": trace,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    out = main(parser.parse_args().seconds)
    print(
        f"soak {out['seconds']} s: {out['requests']} requests ({out['rps']} req/s), {out['errors']} errors "
        f"{out['error_kinds'] or ''}\n"
        f"lab RSS {out['lab_rss_kib']['start']} KiB after warm-up, "
        f"{out['lab_rss_kib']['at_1_min']} KiB at 1 min, {out['lab_rss_kib']['end']} KiB at the end "
        f"({out['rss_growth_after_1_min_kib_per_min']} KiB/min after the first minute); "
        f"open FDs {out['lab_fds']['start']} -> {out['lab_fds']['end']}"
    )
    Path(__file__).with_name("soak.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out["trace"]))
