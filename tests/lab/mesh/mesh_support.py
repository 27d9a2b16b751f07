"""Test scaffolding for the mesh: Bookinfo-shaped endpoints, echo pods behind a MemoryTransport, YAML."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from harness.lab.http import HttpRequest, HttpResponse
from harness.lab.mesh import MemoryTransport, Mesh, MeshOptions, Telemetry
from harness.lab.topology import Endpoint

SERVICES = ("productpage", "details", "ratings", "reviews")


def endpoint(
    pod: str,
    *,
    app: str | None = None,
    version: str = "v1",
    port: int,
    injected: bool = True,
    ready: bool = True,
    namespace: str = "default",
    labels: dict[str, str] | None = None,
) -> Endpoint:
    app = app or pod.split("-")[0]
    return Endpoint(
        pod=pod,
        namespace=namespace,
        labels={"app": app, "version": version, **(labels or {})},
        address=f"127.0.0.1:{port}",
        workload=f"{app}-{version}" if app != "istio-ingressgateway" else app,
        service_account=f"bookinfo-{app}",
        injected=injected,
        ready=ready,
    )


def service(
    name: str, *, port: int = 9080, namespace: str = "default", selector: dict[str, str] | None = None
) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"ports": [{"port": port, "name": "http"}], "selector": selector or {"app": name}},
    }


def docs(text: str, namespace: str = "default") -> list[dict]:
    out = []
    for i, d in enumerate(yaml.safe_load_all(text)):
        if not d:
            continue
        d.setdefault("metadata", {}).setdefault("namespace", namespace)
        d["metadata"].setdefault("creationTimestamp", f"2026-01-01T00:00:{i:02d}Z")
        out.append(d)
    return out


DR_REVIEWS = """
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
"""


@dataclass
class Behaviour:
    status: int = 200
    delay_s: float = 0.0
    delay_path: str = ""  # the delay applies only to paths with this prefix


@dataclass
class Lab:
    """Bookinfo-shaped pods (echo apps) behind one Mesh; every pod answers with its own name."""

    extra_pods: Sequence[Endpoint] = ()
    options: MeshOptions = field(default_factory=lambda: MeshOptions(retry_backoff_base_s=0.0))
    seed: int = 7
    default_pods: bool = True

    def __post_init__(self) -> None:
        pods = []
        if self.default_pods:
            pods = [
                endpoint("productpage-v1-a", port=9001),
                endpoint("details-v1-a", port=9002),
                endpoint("ratings-v1-a", port=9003),
                endpoint("reviews-v1-a", version="v1", port=9004),
                endpoint("reviews-v2-a", version="v2", port=9005),
                endpoint("reviews-v3-a", version="v3", port=9006),
            ]
        self.pods: dict[str, Endpoint] = {p.pod: p for p in [*pods, *self.extra_pods]}
        self.gateway_pod = endpoint(
            "istio-ingressgateway-a",
            app="istio-ingressgateway",
            port=9100,
            namespace="istio-system",
            labels={"istio": "ingressgateway"},
        )
        self.telemetry = Telemetry()
        self.transport = MemoryTransport()
        self.rng = random.Random(self.seed)
        self.now = 1000.0
        self.mesh = Mesh(
            rng=self.rng,
            telemetry=self.telemetry,
            transport=self.transport,
            options=self.options,
            clock=self.clock,
        )
        self.behaviour: dict[str, Behaviour] = {}
        self.received: list[tuple[str, HttpRequest]] = []
        self.objects: list[dict] = [service(s) for s in SERVICES]
        for p in self.pods.values():
            self._serve(p)
        self.mesh.update(self.objects, list(self.pods.values()))

    def clock(self) -> float:
        return self.now + asyncio.get_event_loop().time() if _loop_running() else self.now

    def _serve(self, pod: Endpoint) -> None:
        async def app(request: HttpRequest) -> HttpResponse:
            self.received.append((pod.pod, request))
            b = self.behaviour.get(pod.pod, Behaviour())
            if b.delay_s and request.path.startswith(b.delay_path):
                await asyncio.sleep(b.delay_s)
            return HttpResponse(b.status, [("content-type", "text/plain")], pod.pod.encode())

        self.transport.handlers[pod.address] = self.mesh.inbound(pod, app) if pod.injected else app

    def refuse(self, pod: str) -> None:
        """The pod is listed as running but refuses connections."""
        self.transport.handlers.pop(self.pods[pod].address, None)

    def apply(self, text: str, namespace: str = "default") -> None:
        self.objects += docs(text, namespace)
        self.mesh.update(self.objects, list(self.pods.values()))

    def set_objects(self, objects: list[dict]) -> None:
        self.objects = objects
        self.mesh.update(self.objects, list(self.pods.values()))

    async def call(
        self,
        url: str,
        *,
        caller: str = "productpage-v1-a",
        headers: dict[str, str] | None = None,
        method: str = "GET",
        timeout_s: float | None = None,
    ) -> HttpResponse:
        up = self.mesh.outbound(self.pods[caller])
        return await up.request(method, url, headers=headers or {}, timeout_s=timeout_s)

    async def via_gateway(
        self, path: str, *, host: str = "bookinfo.example", headers: dict[str, str] | None = None
    ):
        handler = self.mesh.gateway(self.gateway_pod)
        return await handler(HttpRequest("GET", path, {"host": host, **(headers or {})}))

    def run(self, coro: Awaitable[Any]) -> Any:
        async def main() -> Any:
            result = await coro
            await self.mesh.drain()
            return result

        return asyncio.run(main())

    def calls(self, n: int, url: str = "http://reviews:9080/reviews/0", **kw: Any) -> list[HttpResponse]:
        async def many() -> list[HttpResponse]:
            return [await self.call(url, **kw) for _ in range(n)]

        return self.run(many())

    def counters(self, **match: str) -> float:
        total = 0.0
        for labels, v in self.telemetry.counters().items():
            d = dict(labels)
            if all(d.get(k) == val for k, val in match.items()):
                total += v
        return total


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def bodies(responses: Sequence[HttpResponse]) -> list[str]:
    return [r.body.decode() for r in responses]
