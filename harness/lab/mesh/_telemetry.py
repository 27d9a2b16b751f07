"""Istio standard metrics (istio_requests_total, istio_request_duration_milliseconds), Envoy access logs.

`Telemetry` is the Prometheus registry; label tuples are precomputed per (reporter, source, destination,
service) and cached, so a request costs two dict lookups and a bisect. Label values follow istio-semantics.md
A4.
"""

from __future__ import annotations

import bisect
import time
from typing import NamedTuple

from harness.lab.topology import Endpoint

LABEL_NAMES: tuple[str, ...] = (
    "reporter",
    "source_workload",
    "source_workload_namespace",
    "source_app",
    "source_version",
    "source_principal",
    "source_canonical_service",
    "source_canonical_revision",
    "source_cluster",
    "destination_workload",
    "destination_workload_namespace",
    "destination_app",
    "destination_version",
    "destination_service",
    "destination_service_name",
    "destination_service_namespace",
    "destination_principal",
    "destination_canonical_service",
    "destination_canonical_revision",
    "destination_cluster",
    "request_protocol",
    "response_code",
    "response_flags",
    "connection_security_policy",
    "grpc_response_status",
)
DURATION_BUCKETS_MS: tuple[float, ...] = (
    0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
    30000, 60000, 300000, 600000, 1800000, 3600000,
)  # fmt: skip
CLUSTER_ID = "Kubernetes"  # Istio's default cluster name
UNKNOWN = "unknown"
_UNKNOWN_PEER = (UNKNOWN,) * 8


def peer_labels(ep: Endpoint | None, trust_domain: str = "cluster.local") -> tuple[str, ...]:
    """(workload, namespace, app, version, principal, canonical service, canonical revision, cluster)."""
    if ep is None or not ep.injected:
        return _UNKNOWN_PEER
    labels = ep.labels
    canonical = labels.get("service.istio.io/canonical-name") or labels.get("app") or ep.workload
    revision = labels.get("service.istio.io/canonical-revision") or labels.get("version") or "latest"
    return (
        ep.workload,
        ep.namespace,
        labels.get("app", UNKNOWN),
        labels.get("version", UNKNOWN),
        f"spiffe://{trust_domain}/ns/{ep.namespace}/sa/{ep.service_account}",
        canonical,
        revision,
        CLUSTER_ID,
    )


class Telemetry:
    """Prometheus registry for the two Istio series the lab emits."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, ...], float] = {}
        self._hist: dict[tuple[str, ...], list[float]] = {}  # bucket counts..., sum, count

    def observe(self, labels: tuple[str, ...], duration_ms: float) -> None:
        """Count one request with its label values (in `LABEL_NAMES` order) and its duration."""
        counts = self._counts
        counts[labels] = counts.get(labels, 0.0) + 1.0
        hist = self._hist.get(labels)
        if hist is None:
            hist = self._hist[labels] = [0.0] * (len(DURATION_BUCKETS_MS) + 2)
        hist[bisect.bisect_left(DURATION_BUCKETS_MS, duration_ms)] += 1.0
        hist[-2] += duration_ms
        hist[-1] += 1.0

    def counters(self) -> dict[tuple[tuple[str, str], ...], float]:
        """istio_requests_total by label set, as ((name, value), ...) tuples."""
        return {tuple(zip(LABEL_NAMES, k, strict=True)): v for k, v in self._counts.items()}

    def render(self) -> str:
        """Prometheus text exposition format 0.0.4."""
        out = [
            "# HELP istio_requests_total Total requests.",
            "# TYPE istio_requests_total counter",
        ]
        label_text = {
            k: ",".join(f'{n}="{_escape(v)}"' for n, v in zip(LABEL_NAMES, k, strict=True))
            for k in self._counts
        }
        for k, v in self._counts.items():
            out.append(f"istio_requests_total{{{label_text[k]}}} {_num(v)}")
        out.append("# HELP istio_request_duration_milliseconds Request duration in milliseconds.")
        out.append("# TYPE istio_request_duration_milliseconds histogram")
        for k, hist in self._hist.items():
            text = label_text.get(k) or ",".join(
                f'{n}="{_escape(v)}"' for n, v in zip(LABEL_NAMES, k, strict=True)
            )
            running = 0.0
            for le, count in zip(DURATION_BUCKETS_MS, hist, strict=False):
                running += count
                out.append(
                    f'istio_request_duration_milliseconds_bucket{{{text},le="{_num(le)}"}} {_num(running)}'
                )
            out.append(f'istio_request_duration_milliseconds_bucket{{{text},le="+Inf"}} {_num(hist[-1])}')
            out.append(f"istio_request_duration_milliseconds_sum{{{text}}} {_num(hist[-2])}")
            out.append(f"istio_request_duration_milliseconds_count{{{text}}} {_num(hist[-1])}")
        return "\n".join(out) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


# ---------------------------------------------------------------------------------------------- access log

_ts_cache: tuple[int, str] = (-1, "")


def format_start_time(epoch_s: float) -> str:
    """Envoy %START_TIME% (UTC, milliseconds)."""
    global _ts_cache
    sec = int(epoch_s)
    if _ts_cache[0] != sec:
        _ts_cache = (sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)))
    return f"{_ts_cache[1]}.{int((epoch_s - sec) * 1000):03d}Z"


class AccessLogEntry(NamedTuple):
    """One request at one proxy: the fields of Envoy/Istio's default TEXT access-log line."""

    start_epoch_s: float
    method: str
    path: str
    status: int
    flags: str
    details: str
    bytes_in: int
    bytes_out: int
    duration_ms: int
    upstream_ms: int | None
    forwarded_for: str
    user_agent: str
    request_id: str
    authority: str
    upstream_host: str
    cluster: str
    route: str

    def line(self) -> str:
        return (
            f'[{format_start_time(self.start_epoch_s)}] "{self.method} {self.path} HTTP/1.1" {self.status} '
            f'{self.flags} {self.details} - "-" {self.bytes_in} {self.bytes_out} {self.duration_ms} '
            f"{'-' if self.upstream_ms is None else self.upstream_ms} "
            f'"{self.forwarded_for}" "{self.user_agent}" "{self.request_id}" "{self.authority}" '
            f'"{self.upstream_host}" {self.cluster} - - - - {self.route or "-"}'
        )
