"""The asyncio driver: N concurrent workers over one pooled aiohttp session, optional login and rate.

Every response is classified as it arrives and handed to `on_observation`; when that returns True (the
sequential test has decided) the driver stops at once and discards whatever is still in flight. The run is
bounded by a request budget and a time budget. aiohttp is used for load because the measured httpx pool is
quadratic in queued requests (docs/python-tooling.md); the driver never sends anywhere but `base_url`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import aiohttp

from harness.classify import classify_response
from harness.errors import DriverError
from harness.model import Observation, PageOutcome, PageState, Version

MAX_BODY_BYTES = 4 * 1024 * 1024  # a productpage is ~15 KB; anything this large is not Bookinfo


@dataclass(frozen=True)
class DriveConfig:
    base_url: str  # gateway, e.g. http://127.0.0.1:31380
    path: str = "/productpage"
    user: str | None = None
    concurrency: int = 8
    max_requests: int = 5000
    time_budget_s: float = 120.0
    rate_rps: float | None = None
    fresh_connections: bool = False
    request_timeout_s: float = 30.0
    jsonl: Path | None = None
    progress: bool = False


@dataclass
class DriveResult:
    sent: int = 0
    observed: int = 0
    stopped_by: str = ""  # "decided", "max_requests", "time_budget"
    seconds: float = 0.0
    transport_errors: int = 0
    status_counts: dict[int, int] = field(default_factory=dict)


def _transport_outcome() -> PageOutcome:
    return PageOutcome(version=Version.UNKNOWN, state=PageState.MESH_ERROR, status=0)


async def login(session: aiohttp.ClientSession, base_url: str, user: str) -> str:
    """POST /login as `user` the way the browser form does; return the session cookie value."""
    try:
        async with session.post(
            f"{base_url}/login",
            data={"username": user, "passwd": "password"},
            headers={"Referer": f"{base_url}/productpage"},
            allow_redirects=False,
        ) as response:
            await response.read()
            for header in response.headers.getall("Set-Cookie", []):
                name, _, rest = header.partition("=")
                if name.strip() == "session":
                    return rest.split(";", 1)[0]
            raise DriverError(
                f"login as {user!r} at {base_url}/login gave HTTP {response.status} without a session cookie"
            )
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise DriverError(f"cannot log in at {base_url}/login: {exc or type(exc).__name__}") from None


class _Progress:
    def __init__(self, enabled: bool, total: int, out: IO[str] = sys.stderr) -> None:
        self.enabled = enabled and out.isatty()
        self.total = total
        self.out = out
        self.last = 0.0

    def update(self, done: int, label: str = "") -> None:
        now = time.monotonic()
        if not self.enabled or now - self.last < 0.2:
            return
        self.last = now
        width = 30
        filled = int(width * min(done, self.total) / max(self.total, 1))
        self.out.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} {label}   ")
        self.out.flush()

    def close(self) -> None:
        if self.enabled:
            self.out.write("\r" + " " * 70 + "\r")
            self.out.flush()


async def drive(config: DriveConfig, on_observation: Callable[[Observation], bool]) -> DriveResult:
    """Send requests until `on_observation` says stop, or a budget runs out."""
    result = DriveResult()
    connector = aiohttp.TCPConnector(
        limit=0, force_close=config.fresh_connections, enable_cleanup_closed=True
    )
    timeout = aiohttp.ClientTimeout(total=config.request_timeout_s)
    url = config.base_url.rstrip("/") + config.path
    log_file = config.jsonl.open("a") if config.jsonl else None
    progress = _Progress(config.progress, config.max_requests)
    stop = asyncio.Event()
    started = time.monotonic()
    deadline = started + config.time_budget_s
    next_send = [started]
    interval = 1.0 / config.rate_rps if config.rate_rps else 0.0
    try:
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
        ) as session:
            headers = {"User-Agent": "bookinfo-harness/0.1"}
            if config.user:
                headers["Cookie"] = (
                    f"session={await login(session, config.base_url.rstrip('/'), config.user)}"
                )

            async def worker() -> None:
                while not stop.is_set():
                    if result.sent >= config.max_requests:
                        return
                    if interval:
                        slot = next_send[0]
                        next_send[0] = max(slot, time.monotonic()) + interval
                        delay = slot - time.monotonic()
                        if delay > 0:
                            await asyncio.sleep(delay)
                    if time.monotonic() >= deadline or stop.is_set():
                        return
                    result.sent += 1
                    seq = result.sent
                    t0 = time.perf_counter()
                    error = None
                    try:
                        async with session.get(url, headers=headers, allow_redirects=False) as response:
                            body = await response.content.read(MAX_BODY_BYTES + 1)
                            if len(body) > MAX_BODY_BYTES:
                                outcome = PageOutcome(
                                    Version.UNKNOWN, PageState.NOT_BOOKINFO, status=response.status
                                )
                                error = f"response larger than {MAX_BODY_BYTES} bytes"
                            else:
                                outcome = classify_response(
                                    response.status, body, response.headers.get("Content-Type")
                                )
                            result.status_counts[response.status] = (
                                result.status_counts.get(response.status, 0) + 1
                            )
                    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                        outcome = _transport_outcome()
                        error = f"{type(exc).__name__}: {exc}".rstrip(": ")
                        result.transport_errors += 1
                    if stop.is_set():
                        return  # the verdict was decided while this request was in flight: not counted
                    latency_ms = (time.perf_counter() - t0) * 1000
                    observation = Observation(seq, outcome, latency_ms, user=config.user, error=error)
                    result.observed += 1
                    if log_file is not None:
                        log_file.write(
                            json.dumps(
                                {
                                    "seq": seq,
                                    **outcome.to_json(),
                                    "user": config.user,
                                    "latency_ms": round(latency_ms, 3),
                                    "error": error,
                                }
                            )
                            + "\n"
                        )
                    progress.update(result.observed)
                    if on_observation(observation):
                        result.stopped_by = "decided"
                        stop.set()
                        return

            tasks = {asyncio.create_task(worker()) for _ in range(config.concurrency)}
            stopper = asyncio.create_task(stop.wait())
            hard_deadline = deadline + config.request_timeout_s
            pending = set(tasks)
            while pending and not stop.is_set():
                left = hard_deadline - time.monotonic()
                if left <= 0:
                    break
                done, pending = await asyncio.wait(
                    pending | {stopper}, timeout=left, return_when=asyncio.FIRST_COMPLETED
                )
                pending.discard(stopper)
                if any(t is not stopper and t.exception() is not None for t in done):
                    break
            # Decided or out of time: whatever is still in flight is abandoned, not awaited.
            for task in [*tasks, stopper]:
                if not task.done():
                    task.cancel()
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.gather(stopper, return_exceptions=True)
            for outcome in outcomes:
                if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
                    raise outcome
    finally:
        progress.close()
        if log_file is not None:
            log_file.close()
    if not result.stopped_by:
        result.stopped_by = "max_requests" if result.sent >= config.max_requests else "time_budget"
    result.seconds = time.monotonic() - started
    return result
