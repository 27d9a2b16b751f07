"""The lab's embedded Istio mesh: config compilation, routing, the webhook, and the async data plane.

Public door for `harness.lab`: `Mesh` (sidecars + ingress gateway), `MeshOptions`, `Telemetry`, the
`Transport` seam with `AiohttpTransport` (real loopback sockets) and `MemoryTransport` (no sockets), and
`validate` (the webhook) with its `FieldError`. Semantics: /work/shared/docs/istio-semantics.md Part A.
"""

from __future__ import annotations

from ._dataplane import Mesh
from ._options import MeshOptions, parse_duration
from ._telemetry import Telemetry
from ._transport import AiohttpTransport, MemoryTransport, Transport
from ._validate import FieldError, validate

__all__ = [
    "AiohttpTransport",
    "FieldError",
    "MemoryTransport",
    "Mesh",
    "MeshOptions",
    "Telemetry",
    "Transport",
    "parse_duration",
    "validate",
]
