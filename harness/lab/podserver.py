"""Real HTTP listeners on loopback for the lab's pods, gateway and admin endpoints.

A listener turns each HTTP request into an `HttpRequest` value, calls a `Handler`, and writes the
`HttpResponse` back. aiohttp's low-level server is used (no router, no middlewares): the lab's handlers do
their own dispatch and the per-request cost stays small.
"""

from __future__ import annotations

import asyncio
import logging
import socket

from aiohttp import web
from aiohttp.web_request import BaseRequest

from harness.lab.http import Handler, HttpRequest, HttpResponse

log = logging.getLogger(__name__)


def _headers(request: BaseRequest) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        name = key.lower()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


class Listener:
    """One handler served on host:port (port 0 picks a free port; `port` tells which)."""

    def __init__(self, handler: Handler, *, host: str = "127.0.0.1", port: int = 0, name: str = "") -> None:
        self._handler = handler
        self.host = host
        self.port = port
        self.name = name
        self._server: asyncio.AbstractServer | None = None
        self._lowlevel: web.Server | None = None

    async def _serve(self, request: BaseRequest) -> web.StreamResponse:
        body = await request.read() if request.body_exists else b""
        value = HttpRequest(request.method, request.raw_path, _headers(request), body)
        try:
            response = await self._handler(value)
        except Exception:  # a handler bug must not take the listener down; answer like a crashed app
            log.exception("handler of %s failed on %s %s", self.name, request.method, request.raw_path)
            response = HttpResponse(500, [("content-type", "text/plain")], b"internal error\n")
        out = web.Response(status=response.status, body=response.body)
        for key, header_value in response.headers:
            if key.lower() in ("content-length", "transfer-encoding", "connection"):
                continue
            out.headers.add(key, header_value)
        return out

    async def start(self) -> None:
        self._lowlevel = web.Server(self._serve, access_log=None)
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        sock.listen(1024)
        sock.setblocking(False)
        self._server = await loop.create_server(self._lowlevel, sock=sock)
        self.port = sock.getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            if self._lowlevel is not None:
                await self._lowlevel.shutdown(0.2)
            await self._server.wait_closed()
            self._server = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"
