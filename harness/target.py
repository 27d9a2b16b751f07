"""Targets: where scenarios are applied and traffic is sent (the lab, or a cluster through a kubeconfig).

Both are reached the same way: the Kubernetes API through a kubeconfig, the ingress gateway discovered from
`istio-system/istio-ingressgateway`, and Istio's metrics. The lab adds one thing a cluster lacks: a sync
endpoint that says which configuration its mesh serves, so the convergence gate can wait for it exactly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_exponential_jitter

from harness.errors import InputError, TargetError
from harness.journal import Journal
from harness.kube import KubeClient, describe, object_key
from harness.lab.injection import inject_objects
from harness.manifests import load_manifest_file, matches_selector
from harness.metrics import LabMetrics, PrometheusMetrics
from harness.scenario import ApplyItem

if TYPE_CHECKING:
    from harness.lab.lab import LabInfo

log = logging.getLogger(__name__)

SNAPSHOT_KINDS = ("Namespace", "Deployment", "Pod", "Service", "Gateway", "VirtualService", "DestinationRule")


def discover_gateway_url(kube: KubeClient) -> str:
    """http://HOST:PORT of istio-ingressgateway's `http2` port (NodePort on a node, or a LoadBalancer)."""
    svc = kube.get("Service", "istio-system", "istio-ingressgateway")
    if svc is None:
        raise TargetError(
            "no Service istio-system/istio-ingressgateway: is Istio installed? (or pass --gateway-url)"
        )
    ports = [p for p in svc.get("spec", {}).get("ports", []) if p.get("name") == "http2"]
    if not ports:
        raise TargetError(
            "Service istio-system/istio-ingressgateway has no port named http2 (pass --gateway-url)"
        )
    port = ports[0]
    ingress = (svc.get("status", {}).get("loadBalancer", {}) or {}).get("ingress") or []
    if svc.get("spec", {}).get("type") == "LoadBalancer" and ingress:
        host = ingress[0].get("ip") or ingress[0].get("hostname")
        return f"http://{host}:{port['port']}"
    if port.get("nodePort"):
        pods = kube.list("Pod", "istio-system", "istio=ingressgateway")
        hosts = [p.get("status", {}).get("hostIP") for p in pods if p.get("status", {}).get("hostIP")]
        if not hosts:
            raise TargetError("no running istio-ingressgateway pod reports a hostIP (pass --gateway-url)")
        return f"http://{hosts[0]}:{port['nodePort']}"
    raise TargetError(
        "istio-ingressgateway is neither NodePort nor a LoadBalancer with an address (pass --gateway-url)"
    )


def load_items(items: Iterable[ApplyItem]) -> list[dict]:
    """The objects a list of apply items stands for (kube-injected and label-filtered like the exercise)."""
    objects: list[dict] = []
    for item in items:
        docs = load_manifest_file(item.path)
        if item.inject:
            docs = inject_objects(docs)
        if item.selector:
            docs = [
                d
                for d in docs
                if matches_selector((d.get("metadata") or {}).get("labels") or {}, item.selector)
            ]
        objects.extend(docs)
    return objects


@dataclass
class Target:
    kube: KubeClient
    namespace: str
    gateway_url: str
    metrics: LabMetrics | PrometheusMetrics | None
    name: str
    sync_url: str | None = None  # the lab's /debug/syncz

    def snapshot(self) -> list[dict]:
        objects: list[dict] = []
        for kind in SNAPSHOT_KINDS:
            if kind == "Namespace":
                ns = self.kube.get("Namespace", None, self.namespace)
                objects.extend([ns] if ns else [])
                continue
            objects.extend(self.kube.list(kind, self.namespace))
        objects.extend(self.kube.list("Gateway", "istio-system"))
        return objects

    def apply(self, objects: Iterable[dict], journal: Journal) -> list[str]:
        applied = []
        for obj in objects:
            kind, namespace, name = object_key(obj, self.namespace)
            entry = journal.record(kind, namespace, name, self.kube.get(kind, namespace, name))
            result = self.kube.apply(obj, self.namespace)
            live = result or self.kube.get(kind, namespace, name) or {}
            journal.mark_applied(entry, live)
            applied.append(describe(kind, namespace, name))
        return applied

    def delete(self, kind: str, name: str, journal: Journal) -> bool:
        namespace = None if kind == "Namespace" else self.namespace
        live = self.kube.get(kind, namespace, name)
        if live is None:
            return False
        journal.record(kind, namespace, name, live)
        return self.kube.delete(kind, namespace, name)

    # -- convergence -----------------------------------------------------------------------------------------
    def wait_rollout(self, timeout_s: float = 60.0) -> None:
        """Wait until every Deployment's pods run its current template and old pods are gone."""

        def pending() -> list[str]:
            waiting = []
            for dep in self.kube.list("Deployment", self.namespace):
                spec, status = dep.get("spec", {}), dep.get("status", {})
                want = spec.get("replicas", 1)
                rolled = (
                    status.get("observedGeneration", 0) >= dep["metadata"].get("generation", 1)
                    and status.get("updatedReplicas", 0) == want
                    and status.get("readyReplicas", 0) >= want
                    and status.get("replicas", 0) == want
                )
                if not rolled and not self._image_unavailable(dep):
                    waiting.append(dep["metadata"]["name"])
            return waiting

        self._poll(pending, timeout_s, "Deployments to roll out")

    def _image_unavailable(self, dep: dict) -> bool:
        selector = ",".join(f"{k}={v}" for k, v in dep["spec"]["selector"].get("matchLabels", {}).items())
        for pod in self.kube.list("Pod", self.namespace, selector):
            for cs in pod.get("status", {}).get("containerStatuses", []) or []:
                if cs.get("state", {}).get("waiting", {}).get("reason") in (
                    "ErrImagePull",
                    "ImagePullBackOff",
                ):
                    return True
        return False

    def wait_synced(self, timeout_s: float = 10.0) -> None:
        """On the lab: wait until the mesh serves the store's current configuration."""
        sync_url = self.sync_url
        if not sync_url:
            return

        def behind() -> list[str]:
            data = httpx.get(sync_url, timeout=5).json()
            return [] if data.get("synced") else ["mesh config"]

        self._poll(behind, timeout_s, "the mesh to serve the new configuration")

    @staticmethod
    def _poll(check: Callable[[], list[str]], timeout_s: float, what: str) -> None:
        """Call `check` until it returns nothing outstanding; a bounded wait, never a verdict retry."""
        started = time.monotonic()
        retrying = Retrying(
            stop=stop_after_delay(timeout_s),
            retry=retry_if_result(bool),
            wait=wait_exponential_jitter(multiplier=0.02, max=0.5, jitter=0.02),
        )
        try:
            retrying(check)
        except RetryError as exc:
            left = exc.last_attempt.result()
            raise TargetError(
                f"timed out after {timeout_s:.0f} s waiting for {what}: still waiting on {left}"
            ) from None
        log.debug("waited %.2f s for %s", time.monotonic() - started, what)


def lab_target(info: LabInfo, namespace: str = "default") -> Target:
    kube = KubeClient(kubeconfig=info.kubeconfig)
    base = info.metrics_url.rsplit("/", 1)[0]
    return Target(
        kube,
        namespace,
        info.gateway_url,
        PrometheusMetrics(info.prometheus_url) if info.prometheus_url else LabMetrics(info.metrics_url),
        name=f"lab {info.api_url}",
        sync_url=f"{base}/debug/syncz",
    )


def check_gateway_url(url: str, *, timeout_s: float = 5.0) -> str:
    """The gateway URL normalised, after one request shows that an HTTP server answers there.

    Only reachability is checked: before a scenario's setup a good gateway may well answer 404. Whether the
    answers are Bookinfo is the driver's call (harness.drivers.aio), per response.
    """
    parsed = urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InputError(f"--gateway-url {url!r}: expected http://HOST:PORT or https://HOST:PORT")
    try:
        port = parsed.port
    except ValueError:
        raise InputError(f"--gateway-url {url!r}: the port is not a number in 1-65535") from None
    if port == 0:
        raise InputError(f"--gateway-url {url!r}: the port is not a number in 1-65535")
    base = url.rstrip("/")
    try:
        with (
            httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False) as client,
            client.stream("GET", f"{base}/productpage") as response,
        ):
            response.close()  # the status line is enough; never read a body here
    except httpx.HTTPError as exc:
        reason = " ".join((str(exc) or type(exc).__name__).split())[:200]
        raise TargetError(f"gateway {base} unreachable: {reason} (check --gateway-url)") from None
    return base


def cluster_target(
    *,
    kubeconfig: str | None,
    context: str | None,
    namespace: str,
    gateway_url: str | None,
    prometheus_url: str | None,
) -> Target:
    kube = KubeClient(kubeconfig=kubeconfig, context=context)
    url = check_gateway_url(gateway_url or discover_gateway_url(kube))
    metrics = PrometheusMetrics(prometheus_url) if prometheus_url else None
    return Target(kube, namespace, url, metrics, name=f"cluster {kube.host}")
