"""Lab throughput: productpage requests/s through gateway -> productpage -> details + reviews -> ratings with
every pod injected, driven by the harness's own aiohttp driver from another process on the same machine.

Reported: the maximum rate (closed loop, 64 in flight), then p50/p99 latency at 50% of that rate (open loop).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
from typing import Any

from harness.drivers.aio import DriveConfig, drive
from harness.lab.process import LabInfo, LabProcess
from harness.model import Observation
from harness.paths import MANIFESTS_DIR as M

SETUP = [
    ("bookinfo-gateway.yaml", False),
    ("destination-rule-all.yaml", False),
    ("bookinfo.yaml", True),
    ("reviews-v3.yaml", True),
    ("virtual-service-all-v1.yaml", False),
    ("virtual-service-reviews-v3.yaml", False),
]


def _prepare(info: LabInfo) -> None:
    import tempfile
    from pathlib import Path

    from harness.journal import Journal
    from harness.scenario import ApplyItem
    from harness.target import lab_target, load_items

    target = lab_target(info)
    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal.open_new(Path(tmp) / "j.json", "bench")
        target.apply(load_items([ApplyItem(M / name, inject) for name, inject in SETUP]), journal)
    target.wait_rollout()
    target.wait_synced()
    target.kube.close()


async def _measure(url: str, *, seconds: float, concurrency: int, rate: float | None) -> dict[str, float]:
    latencies: list[float] = []
    states: dict[str, int] = {}

    def record(observation: Observation) -> bool:
        latencies.append(observation.latency_ms)
        key = f"{observation.outcome.version.value}/{observation.outcome.state.value}"
        states[key] = states.get(key, 0) + 1
        return False

    config = DriveConfig(
        base_url=url, concurrency=concurrency, max_requests=10_000_000, time_budget_s=seconds, rate_rps=rate
    )
    result = await drive(config, record)
    latencies.sort()
    return {
        "requests": result.observed,
        "seconds": result.seconds,
        "rps": result.observed / result.seconds,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(0.99 * (len(latencies) - 1))],
        "ok_share": states.get("v3/ok", 0) / max(result.observed, 1),
    }


def main(seconds: float = 10.0, transport: str = "memory") -> dict[str, Any]:
    with LabProcess(seed=1, extra_args=["--transport", transport]) as info:
        _prepare(info)
        asyncio.run(_measure(info.gateway_url, seconds=2, concurrency=16, rate=None))  # warm-up
        peak = asyncio.run(_measure(info.gateway_url, seconds=seconds, concurrency=64, rate=None))
        half = asyncio.run(_measure(info.gateway_url, seconds=seconds, concurrency=64, rate=peak["rps"] / 2))
    return {"peak": peak, "half_rate": half}


if __name__ == "__main__":
    out = main(float(sys.argv[1]) if len(sys.argv) > 1 else 10.0)
    peak, half = out["peak"], out["half_rate"]
    print(
        f"lab peak: {peak['rps']:.0f} productpage req/s "
        f"(p50 {peak['p50_ms']:.1f} ms, p99 {peak['p99_ms']:.1f} ms, "
        f"v3/ok {peak['ok_share']:.3f})"
    )
    print(f"at 50%:   {half['rps']:.0f} req/s, p50 {half['p50_ms']:.1f} ms, p99 {half['p99_ms']:.1f} ms")
