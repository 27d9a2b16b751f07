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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import aiohttp

from harness.classify import classify_response
from harness.errors import DriverError, InputError
from harness.model import Observation, PageOutcome, PageState, Version

MAX_BODY_BYTES = 4 * 1024 * 1024  # a productpage is ~15 KB; anything this large is not Bookinfo
# Until the first response that comes from Bookinfo or from an Istio gateway, this many attempts in a row that
# got no response, or a response from something else, mean the URL is wrong: the driver stops with one line.
# Below the runner's convergence gate (10 pages in a row), so a wrong URL is named before any verdict.
FOREIGN_LIMIT = 8
GONE_AFTER_S = 5.0  # after responses were seen: this long without any response means the gateway is gone
TRANSPORT_BACKOFF_S = 0.05  # a worker whose request got no response waits this long before the next


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


async def read_capped(content: aiohttp.StreamReader, cap: int) -> tuple[bytes, bool]:
    """The body up to `cap` bytes, and whether it was longer (the rest is never read into memory).

    `StreamReader.read(n)` returns as soon as *some* data is buffered, so one call can return a partial
    page: read until end of stream or past the cap.
    """
    body = bytearray()
    while len(body) <= cap:
        chunk = await content.read(cap + 1 - len(body))
        if not chunk:
            break
        body += chunk
    if len(body) > cap:
        return b"", True  # not kept: nothing is classified from it
    return bytes(body), False


def _from_mesh(outcome: PageOutcome, headers: Mapping[str, str] | None) -> bool:
    """Whether a response came from Bookinfo or an Istio/Envoy gateway (so the URL is the right one)."""
    if outcome.state not in (PageState.MESH_ERROR, PageState.NOT_BOOKINFO):
        return True  # a Bookinfo page, whatever its backends did
    if outcome.flag is not None:
        return True  # an Envoy local reply (no route, no healthy upstream, fault abort, ...)
    if headers is None:
        return False
    if "envoy" in headers.get("Server", "").lower():
        return True
    return any(key.lower().startswith("x-envoy-") for key in headers)


def _describe(status: int, headers: Mapping[str, str] | None, error: str | None) -> str:
    if error is not None and status == 0:
        return error
    kind = (headers or {}).get("Content-Type", "no content type").split(";", 1)[0]
    return f"HTTP {status} {kind}" + (f" ({error})" if error else "")


class _Watch:
    """Tells a wrong or vanished gateway from outcomes worth recording.

    Before the first response from Bookinfo or an Envoy gateway: FOREIGN_LIMIT attempts in a row without a
    response, or with responses from something else, mean a wrong URL. After it: no response at all for
    GONE_AFTER_S (and at least FOREIGN_LIMIT attempts) means the gateway went away. Anything else (5xx from
    the mesh, error pages, requests that time out) is an outcome, recorded and judged by the verdict.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.mesh_seen = False
        self.misses = 0  # attempts in a row that did not count as a response from the mesh
        self.last_response = time.monotonic()
        self.last = ""

    def record(
        self,
        outcome: PageOutcome,
        status: int,
        headers: Mapping[str, str] | None,
        error: str | None,
        timed_out: bool = False,
    ) -> DriverError | None:
        now = time.monotonic()
        if timed_out:
            return None  # something accepted the request and is slow: an outcome, not a wrong address
        if self.mesh_seen:
            if status != 0:
                self.misses, self.last_response = 0, now
                return None
            self.misses += 1
            self.last = _describe(status, headers, error)
            if self.misses >= FOREIGN_LIMIT and now - self.last_response >= GONE_AFTER_S:
                return DriverError(
                    f"gateway {self.url} stopped answering: no response for "
                    f"{now - self.last_response:.0f} s, {self.misses} attempts in a row (last: {self.last})"
                )
            return None
        if _from_mesh(outcome, headers):
            self.mesh_seen, self.misses, self.last_response = True, 0, now
            return None
        self.misses += 1
        self.last = _describe(status, headers, error)
        if self.misses < FOREIGN_LIMIT:
            return None
        if status == 0:
            return DriverError(
                f"gateway {self.url} unreachable: {self.misses} attempts without a response "
                f"(last: {self.last})"
            )
        return DriverError(
            f"{self.url} does not serve Bookinfo through an Istio gateway: {self.misses} responses, "
            f"none a Bookinfo page or an Envoy reply (last: {self.last}); check --gateway-url"
        )


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


def _open_jsonl(path: Path) -> IO[str]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("a")
    except OSError as exc:
        raise InputError(f"{path}: cannot write the request log: {exc.strerror or exc}") from None


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
    log_file = _open_jsonl(config.jsonl) if config.jsonl else None
    progress = _Progress(config.progress, config.max_requests)
    stop = asyncio.Event()
    started = time.monotonic()
    deadline = started + config.time_budget_s
    next_send = [started]
    interval = 1.0 / config.rate_rps if config.rate_rps else 0.0
    watch = _Watch(url)
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
                    response_headers: Mapping[str, str] | None = None
                    status = 0
                    timed_out = False
                    try:
                        async with session.get(url, headers=headers, allow_redirects=False) as response:
                            response_headers, status = response.headers, response.status
                            length = response.content_length
                            if length is not None and length > MAX_BODY_BYTES:
                                body, too_large = b"", True  # never read it
                            else:
                                body, too_large = await read_capped(response.content, MAX_BODY_BYTES)
                            if too_large:
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
                        timed_out = isinstance(exc, TimeoutError)
                        outcome = _transport_outcome()
                        error = " ".join(f"{type(exc).__name__}: {exc}".rstrip(": ").split())
                        result.transport_errors += 1
                    if stop.is_set():
                        return  # the verdict was decided while this request was in flight: not counted
                    problem = watch.record(outcome, status, response_headers, error, timed_out)
                    if problem is not None:
                        stop.set()
                        raise problem
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
                    if status == 0:
                        await asyncio.sleep(TRANSPORT_BACKOFF_S)  # no hot loop on refused connections

            tasks = {asyncio.create_task(worker()) for _ in range(config.concurrency)}
            stopper = asyncio.create_task(stop.wait())
            hard_deadline = deadline + config.request_timeout_s
            pending: set[asyncio.Task[object]] = set(tasks)
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
