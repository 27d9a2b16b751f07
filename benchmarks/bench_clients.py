"""The driver's HTTP client: httpx (the project's chosen client) against aiohttp, asyncio, one core,
each request classified, against a static Bookinfo page served by nginx (see bench_locust).

This is why the load driver uses aiohttp while httpx serves the low-rate calls (route checks, metrics).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx

from benchmarks.bench_locust import _wait_http, start_static_server
from harness.classify import classify_response


async def _httpx(url: str, tasks: int, seconds: float) -> int:
    done = 0
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=tasks)) as client:

        async def worker() -> None:
            nonlocal done
            while time.monotonic() < deadline:
                response = await client.get(url)
                classify_response(response.status_code, response.content)
                done += 1

        await asyncio.gather(*(worker() for _ in range(tasks)))
    return done


async def _aiohttp(url: str, tasks: int, seconds: float) -> int:
    done = 0
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def worker() -> None:
            nonlocal done
            while time.monotonic() < deadline:
                async with session.get(url) as response:
                    classify_response(response.status, await response.read())
                done += 1

        await asyncio.gather(*(worker() for _ in range(tasks)))
    return done


def main(seconds: float = 5.0) -> dict[str, dict[int, float]]:
    with tempfile.TemporaryDirectory(prefix="bench-clients-") as tmp:
        server_cpus = {0} if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1 else None
        server, base, _ = start_static_server(Path(tmp), server_cpus)
        try:
            if server_cpus:
                os.sched_setaffinity(0, {1})
            url = base + "/productpage"
            _wait_http(url)
            out: dict[str, dict[int, float]] = {"httpx": {}, "aiohttp": {}}
            for tasks in (1, 8, 64):
                out["httpx"][tasks] = asyncio.run(_httpx(url, tasks, seconds)) / seconds
                out["aiohttp"][tasks] = asyncio.run(_aiohttp(url, tasks, seconds)) / seconds
            return out
        finally:
            server.terminate()
            server.wait()
            if server_cpus:
                os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))


if __name__ == "__main__":
    for client, rows in main().items():
        print(client, {k: round(v) for k, v in rows.items()})
