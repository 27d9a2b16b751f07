"""What the mesh needs to know about a running pod: where it listens, its labels, whether it has a sidecar.

The lab's workload controller produces these from Pod objects; the mesh consumes them. Pure values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Endpoint:
    pod: str  # pod name, e.g. "reviews-v2-5b667bcbf8-8pz2r"
    namespace: str
    labels: Mapping[str, str]  # pod labels (app, version, ...)
    address: str  # "127.0.0.1:PORT" where the pod's server listens
    workload: str  # owning Deployment name, e.g. "reviews-v2" (Istio's destination_workload)
    service_account: str  # e.g. "bookinfo-reviews" (for principals in metrics)
    injected: bool  # has an istio-proxy sidecar
    ready: bool

    @property
    def app(self) -> str:
        return self.labels.get("app", "unknown")

    @property
    def version(self) -> str:
        return self.labels.get("version", "unknown")
