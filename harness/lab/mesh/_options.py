"""Mesh-wide switches selecting an Istio release's behaviour; duration parsing for compile and webhook.

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MeshOptions:
    """Version-dependent behaviour of the emulated mesh (defaults: Istio 1.17, the exercise's release)."""

    shadow_host_suffix: bool = True  # pre-1.28: mirrored Host gets "-shadow" before the port
    retry_503: bool = True  # Istio <= 1.23: the default retry policy retries upstream 503s
    strict_weight_sum: bool = False  # pre-1.15 webhook: route weights must sum to 100
    cluster_domain: str = "cluster.local"
    gateway_namespace: str = "istio-system"
    retry_backoff_base_s: float = (
        0.025  # Envoy's default retry back-off base interval (jittered, doubled per retry)
    )


# Go's time.ParseDuration grammar (Istio's CRD accepts "7s", "500ms", "1.5s", "1m", "1h30m").
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_WHOLE = re.compile(r"(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: object) -> float:
    """Seconds in a duration string such as "7s", "500ms", "1.5s" or "1m".

    Raises:
        ValueError: not a duration string.
    """
    if not isinstance(text, str) or not _DURATION_WHOLE.fullmatch(text):
        raise ValueError(f"invalid duration {text!r}")
    return sum(float(num) * _UNIT_S[unit] for num, unit in _DURATION_PART.findall(text))
