"""The lab's HTTP values and seams: every emulated workload and every mesh hop speaks these.

A Bookinfo app is a `Handler` (request value in, response value out); the pod server turns sockets into
`HttpRequest`s and back, and an app calls other services only through its pod's `Upstream`. That keeps the
apps free of sockets, lets the mesh sit between them, and lets tests call a handler directly.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from harness.model import Era


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    path: str  # path plus query string, as sent on the request line
    headers: Mapping[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes = b""

    @property
    def path_only(self) -> str:
        return self.path.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.path.split("?", 1)[1] if "?" in self.path else ""


@dataclass(slots=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


class UpstreamError(Exception):
    """No HTTP response came back from an outbound call.

    `kind` is "timeout" (the caller's own timeout expired) or "connect" (refused, reset, unknown host).
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Upstream(Protocol):
    """How a pod's application calls other services (through its sidecar when it has one)."""

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes = b"",
        timeout_s: float | None = None,
    ) -> HttpResponse:
        """Send one request to `url` (for example "http://reviews:9080/reviews/0").

        Returns whatever HTTP response arrives (a mesh error such as 503 is a response). Raises UpstreamError
        when no response arrives within `timeout_s` or the connection fails.
        """
        ...


@dataclass(slots=True)
class PodContext:
    """What a Bookinfo application sees of the pod it runs in."""

    name: str  # pod name; the reviews app reports it as `podname` (HOSTNAME in the real image)
    namespace: str
    labels: Mapping[str, str]
    env: Mapping[str, str]  # container env from the Deployment template
    image: str
    upstream: Upstream
    log: Callable[[str], None]  # one line of the application container's log
    era: Era = Era.B
    rng: random.Random = field(default_factory=random.Random)
