"""Metrics sources for mirror accounting: Istio's `istio_requests_total` from the lab's /metrics endpoint
(Prometheus text) or from a Prometheus server's HTTP API. The parsing and delta arithmetic are pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from harness.errors import TargetError

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

Labels = tuple[tuple[str, str], ...]


def parse_prometheus_text(text: str, metric: str) -> dict[Labels, float]:
    """Samples of one metric from Prometheus exposition text, keyed by sorted label pairs."""
    samples: dict[Labels, float] = {}
    for line in text.splitlines():
        if not line.startswith(metric):
            continue
        match = _SAMPLE.match(line)
        if not match or match.group(1) != metric:
            continue
        labels = tuple(sorted(_LABEL.findall(match.group(3) or "")))
        samples[labels] = float(match.group(4))
    return samples


def total(samples: Mapping[Labels, float], **selector: str) -> float:
    """Sum of the samples whose labels match every selector value exactly."""
    out = 0.0
    for labels, value in samples.items():
        as_dict = dict(labels)
        if all(as_dict.get(k) == v for k, v in selector.items()):
            out += value
    return out


@dataclass(frozen=True)
class MirrorCount:
    """Requests routed to a service by its callers and copies seen at a mirror target, over one window."""

    routed: int  # reporter=source requests from the caller to the service (the primaries)
    mirrored: int  # reporter=destination requests at the mirror workload minus its reporter=source primaries


def mirror_count(
    before: Mapping[Labels, float],
    after: Mapping[Labels, float],
    *,
    service: str,
    mirror_workload: str,
    namespace: str = "default",
) -> MirrorCount:
    """Mirrored copies have no reporter=source series (istio-semantics.md A4): count the difference."""

    def delta(**sel: str) -> float:
        return total(after, **sel) - total(before, **sel)

    routed = delta(
        reporter="source", destination_service_name=service, destination_service_namespace=namespace
    )
    at_target = delta(
        reporter="destination", destination_workload=mirror_workload, destination_workload_namespace=namespace
    )
    primaries = delta(
        reporter="source", destination_workload=mirror_workload, destination_workload_namespace=namespace
    )
    return MirrorCount(routed=round(routed), mirrored=max(round(at_target - primaries), 0))


class LabMetrics:
    """Reads istio_requests_total from a lab's (or any Envoy-compatible) /metrics URL."""

    def __init__(self, url: str) -> None:
        self.url = url

    def snapshot(self) -> dict[Labels, float]:
        try:
            response = httpx.get(self.url, timeout=10)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise TargetError(f"metrics at {self.url} unavailable: {exc}") from None
        return parse_prometheus_text(response.text, "istio_requests_total")


class PrometheusMetrics:
    """Reads istio_requests_total through a Prometheus server's HTTP API (instant vector of the counters)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def snapshot(self) -> dict[Labels, float]:
        try:
            response = httpx.get(
                f"{self.url}/api/v1/query", params={"query": "istio_requests_total"}, timeout=10
            )
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise TargetError(f"Prometheus at {self.url} unavailable: {exc}") from None
        samples: dict[Labels, float] = {}
        for item in data.get("data", {}).get("result", []):
            labels = tuple(sorted((k, v) for k, v in item.get("metric", {}).items() if k != "__name__"))
            samples[labels] = float(item["value"][1])
        return samples
