"""Metrics sources for mirror accounting: Istio's `istio_requests_total` from the lab's /metrics endpoint
(Prometheus text) or from a Prometheus server's HTTP API with PromQL. The parsing, the delta arithmetic and
the PromQL builders are pure.

Prometheus only knows what it has scraped, so every reading through it starts with a *mark*: ask the server
for its time T, then wait until every `istio_requests_total` series has a sample taken at or after T. With
traffic quiet between T and the mark (the caller's job), values read at the mark are the counters at T. Two
marks bound a `Window`; counts over it are exact differences (`m - m offset W`), and `increase(m[W])` (what
a dashboard shows, extrapolated by Prometheus) is there for comparison and for counter resets.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx

from harness.errors import TargetError

log = logging.getLogger(__name__)

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
            raise TargetError(f"metrics at {self.url} unavailable: {_one_line(exc)}") from None
        return parse_prometheus_text(response.text, "istio_requests_total")


METRIC = "istio_requests_total"


def _one_line(exc: BaseException) -> str:
    return " ".join((str(exc) or type(exc).__name__).split())[:300]


def selector(metric: str = METRIC, **labels: str) -> str:
    """`metric{a="x", b="y"}` with values escaped for PromQL (pure)."""
    if not labels:
        return metric
    inner = ", ".join(f'{k}="{_promql_escape(v)}"' for k, v in sorted(labels.items()))
    return f"{metric}{{{inner}}}"


def _promql_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _by(labels: Sequence[str]) -> str:
    return f" by ({', '.join(labels)})" if labels else ""


def increase_query(series: str, by: Sequence[str], range_ms: int) -> str:
    """`sum by (...) (increase(series[Nms]))` (pure)."""
    return f"sum{_by(by)} (increase({series}[{range_ms}ms]))"


def delta_query(series: str, by: Sequence[str], offset_ms: int) -> str:
    """Exact counter growth between two instants W apart: `sum(m) - sum(m offset W)` (pure).

    A group that did not exist W ago counts from zero (`or 0 * sum(m)`), as a new counter starts at zero.
    """
    now = f"sum{_by(by)} ({series})"
    then = f"sum{_by(by)} ({series} offset {offset_ms}ms)"
    return f"{now} - ({then} or 0 * {now})"


def resets_query(series: str, range_ms: int) -> str:
    return f"sum(resets({series}[{range_ms}ms]))"


@dataclass(frozen=True)
class Mark:
    """A point where Prometheus has scraped every series.

    `at`: the server time the values are read at; `sample`: the oldest of the series' newest samples (the
    scrape time itself when there is one target, as in the lab).
    """

    at: float
    sample: float


@dataclass(frozen=True)
class Window:
    start: Mark
    end: Mark

    @property
    def seconds(self) -> float:
        return self.end.at - self.start.at

    @property
    def offset_ms(self) -> int:
        return round((self.end.at - self.start.at) * 1000)

    @property
    def range_ms(self) -> int:
        """Sample-to-sample range for `increase()`, evaluated at `end.sample`: both bounding scrapes in it."""
        return max(round((self.end.sample - self.start.sample) * 1000), 1)


def _fmt_time(t: float) -> str:
    return f"{t:.3f}"


class PrometheusMetrics:
    """istio_requests_total through a Prometheus server's HTTP API (the lab's own Prometheus or a cluster's).

    `snapshot()` keeps the LabMetrics interface (counter values, read at a fresh mark); `mark()`, `window()`,
    `counts()`, `increase()`, `split()` and `mirror_count()` are the PromQL path.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 10.0,
        scrape_wait_s: float = 90.0,
        poll_s: float = 0.1,
        metric_selector: str = METRIC,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.scrape_wait_s = scrape_wait_s  # longest wait for a scrape (a cluster scrapes every 15 s)
        self.poll_s = poll_s
        self.metric_selector = metric_selector

    # -- HTTP API -----------------------------------------------------------------------------------------
    def _get(self, path: str, params: Mapping[str, str]) -> dict:
        try:
            response = httpx.get(f"{self.url}{path}", params=dict(params), timeout=self.timeout_s)
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise TargetError(f"Prometheus at {self.url} unavailable: {_one_line(exc)}") from None
        if not isinstance(data, dict):
            raise TargetError(
                f"Prometheus at {self.url} answered something that is not a Prometheus API reply"
            )
        if data.get("status") != "success":
            raise TargetError(
                f"Prometheus at {self.url} rejected {params.get('query', path)!r}: "
                f"{data.get('errorType', response.status_code)}: {data.get('error', response.text[:200])}"
            )
        return data.get("data", {})

    def query_raw(self, promql: str, at: float | None = None) -> dict:
        """The `data` object of /api/v1/query (resultType and result)."""
        params = {"query": promql}
        if at is not None:
            params["time"] = _fmt_time(at)
        return self._get("/api/v1/query", params)

    def query(self, promql: str, at: float | None = None) -> list[tuple[Labels, float, float]]:
        """An instant query as (labels without __name__, value, evaluation time) per series."""
        data = self.query_raw(promql, at)
        result = data.get("result", [])
        if data.get("resultType") == "scalar":
            return [((), float(result[1]), float(result[0]))]
        out = []
        for item in result:
            labels = tuple(sorted((k, v) for k, v in item.get("metric", {}).items() if k != "__name__"))
            ts, value = item["value"]
            out.append((labels, float(value), float(ts)))
        return out

    def server_time(self) -> float:
        return self.query("time()")[0][1]

    # -- marks --------------------------------------------------------------------------------------------
    def mark(self) -> Mark:
        """Wait until every series has been scraped after now (server clock); traffic must be quiet.

        Raises:
            TargetError: no scrape covered the moment within `scrape_wait_s`.
        """
        since = self.server_time()
        deadline = time.monotonic() + self.scrape_wait_s
        newest = f"min(timestamp({self.metric_selector}))"
        while True:
            rows = self.query(newest)
            if rows:
                value, at = rows[0][1], rows[0][2]
                if value >= since:
                    return Mark(at=at, sample=value)
            else:  # no series yet: any scrape after `since` shows the counters are still absent (zero)
                up = self.query("max(timestamp(up))")
                if up and up[0][1] >= since:
                    return Mark(at=up[0][2], sample=up[0][1])
            if time.monotonic() >= deadline:
                raise TargetError(
                    f"Prometheus at {self.url} has not scraped {self.metric_selector} since "
                    f"{since:.3f} within {self.scrape_wait_s:.0f} s (is the mesh a scrape target?)"
                )
            time.sleep(self.poll_s)

    def window(self, start: Mark) -> Window:
        """Close a window opened by `start` (call once the traffic and its mirrored copies are done)."""
        return Window(start, self.mark())

    def snapshot(self) -> dict[Labels, float]:
        """Counter values of istio_requests_total as of now (waits for a scrape; same shape as LabMetrics)."""
        mark = self.mark()
        return {labels: value for labels, value, _ in self.query(self.metric_selector, mark.at)}

    # -- counts over a window -----------------------------------------------------------------------------
    def increase(self, window: Window, by: Sequence[str] = (), **labels: str) -> dict[Labels, float]:
        """`sum by (...) (increase(istio_requests_total{...}[W]))` at the end scrape (an estimate)."""
        promql = increase_query(selector(METRIC, **labels), by, window.range_ms)
        return {k: v for k, v, _ in self.query(promql, window.end.sample)}

    def counts(self, window: Window, by: Sequence[str] = (), **labels: str) -> dict[Labels, int]:
        """Requests counted in the window, by the `by` labels: exact differences of the counters.

        A counter reset inside the window (a restarted pod) makes the difference meaningless; then the
        reset-aware `increase()` is used instead, rounded, and a warning says so.
        """
        series = selector(METRIC, **labels)
        resets = self.query(resets_query(series, window.offset_ms), window.end.at)
        if resets and resets[0][1] > 0:
            log.warning("%s: %d counter resets in the window; using increase()", series, resets[0][1])
            return {k: round(v) for k, v in self.increase(window, by, **labels).items()}
        rows = self.query(delta_query(series, by, window.offset_ms), window.end.at)
        return {k: round(v) for k, v, _ in rows if not math.isnan(v)}

    def count(self, window: Window, **labels: str) -> int:
        return sum(self.counts(window, (), **labels).values())

    def split(
        self,
        window: Window,
        *,
        service: str,
        namespace: str = "default",
        reporter: str = "source",
        **labels: str,
    ) -> dict[str, int]:
        """Requests to `service` by destination_version (the 50/50 question), from one reporter's view."""
        rows = self.counts(
            window,
            ("destination_version",),
            reporter=reporter,
            destination_service_name=service,
            destination_service_namespace=namespace,
            **labels,
        )
        return {dict(k).get("destination_version", ""): v for k, v in rows.items() if v}

    def mirror_count(
        self, window: Window, *, service: str, mirror_workload: str, namespace: str = "default"
    ) -> MirrorCount:
        """The PromQL form of `mirror_count`: routed primaries, and copies seen only at the mirror target."""
        routed = self.count(
            window,
            reporter="source",
            destination_service_name=service,
            destination_service_namespace=namespace,
        )
        at_target = self.count(
            window,
            reporter="destination",
            destination_workload=mirror_workload,
            destination_workload_namespace=namespace,
        )
        primaries = self.count(
            window,
            reporter="source",
            destination_workload=mirror_workload,
            destination_workload_namespace=namespace,
        )
        return MirrorCount(routed=routed, mirrored=max(at_target - primaries, 0))
