"""How a proxy reaches a pod: the `Transport` seam, a real-socket aiohttp implementation and an in-memory one.

Shell: `AiohttpTransport` owns one pooled `aiohttp.ClientSession` (keep-alive, no connection limit);
`MemoryTransport` calls handlers directly (tests, and a socket-free lab).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Protocol

import aiohttp

from harness.lab.http import Handler, HttpRequest, HttpResponse, UpstreamError

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"})


class Transport(Protocol):
    """Sends one HTTP request to a pod address ("127.0.0.1:PORT")."""

    async def send(self, address: str, request: HttpRequest, *, timeout_s: float | None) -> HttpResponse:
        """Return the pod's response. Raises UpstreamError("timeout" | "connect")."""
        ...


class MemoryTransport:
    """Address -> handler map; an unknown address is a refused connection."""

    def __init__(self, handlers: Mapping[str, Handler] | None = None) -> None:
        self.handlers: dict[str, Handler] = dict(handlers or {})

    async def send(self, address: str, request: HttpRequest, *, timeout_s: float | None) -> HttpResponse:
        handler = self.handlers.get(address)
        if handler is None:
            raise UpstreamError("connect", f"connection refused: {address}")
        if timeout_s is None:
            return await handler(request)
        try:
            async with asyncio.timeout(timeout_s):
                return await handler(request)
        except TimeoutError:
            raise UpstreamError("timeout", f"timeout after {timeout_s}s: {address}") from None


class AiohttpTransport:
    """Real loopback sockets through one pooled ClientSession (created lazily inside the running loop)."""

    def __init__(self, *, keepalive_s: float = 30.0) -> None:
        self._keepalive_s = keepalive_s
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=self._keepalive_s)
            session = self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept"),
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return session

    async def send(self, address: str, request: HttpRequest, *, timeout_s: float | None) -> HttpResponse:
        session = self._open()
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        try:
            async with session.request(
                request.method,
                f"http://{address}{request.path}",
                headers=dict(request.headers),
                data=request.body or None,
                timeout=timeout,
                allow_redirects=False,
            ) as resp:
                body = await resp.read()
                headers = [(k, v) for k, v in resp.headers.items() if k.lower() not in _HOP_BY_HOP]
                return HttpResponse(resp.status, headers, body)
        except TimeoutError:
            raise UpstreamError("timeout", f"timeout after {timeout_s}s: {address}") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamError("connect", f"{type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        """Close the pooled session; safe to call twice."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
