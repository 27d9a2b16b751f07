"""The lab's Kubernetes API server (kubectl and the official Python client talk to it over HTTPS).

`KubeApiServer` serves an `ObjectStore` on loopback: version, discovery, a minimal OpenAPI v3, CRUD with
every patch type, Table printing, watch and pod logs. See `server.py` for the routing and the module
docstrings of `tables`, `patch`, `convert` and `protobuf` for the wire details.
"""

from __future__ import annotations

from harness.lab.kubeapi.server import KubeApiConfig, KubeApiServer, LogSource

__all__ = ["KubeApiConfig", "KubeApiServer", "LogSource"]
