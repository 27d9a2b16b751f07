"""A small generic Kubernetes client over the official `kubernetes` package's ApiClient.

One code path for every kind the harness touches (core, apps, autoscaling, Istio networking): read, list,
server-side apply, replace and delete as plain dicts. Errors become one-line `TargetError`s or `InputError`s
that say which object and which API server.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from harness.errors import InputError, TargetError

log = logging.getLogger(__name__)
FIELD_MANAGER = "bookinfo-harness"


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None, name: str | None = None, *, version: str | None = None) -> str:
        version = version or self.version
        base = f"/api/{version}" if not self.group else f"/apis/{self.group}/{version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        return f"{base}/{name}" if name else base


ISTIO = "networking.istio.io"
RESOURCES: dict[str, Resource] = {
    "Namespace": Resource("", "v1", "namespaces", namespaced=False),
    "Pod": Resource("", "v1", "pods"),
    "Service": Resource("", "v1", "services"),
    "ServiceAccount": Resource("", "v1", "serviceaccounts"),
    "ConfigMap": Resource("", "v1", "configmaps"),
    "Deployment": Resource("apps", "v1", "deployments"),
    "ReplicaSet": Resource("apps", "v1", "replicasets"),
    "HorizontalPodAutoscaler": Resource("autoscaling", "v2", "horizontalpodautoscalers"),
    # v1beta1 is served by every Istio from 1.5 to today; writes use the manifest's own version.
    "Gateway": Resource(ISTIO, "v1beta1", "gateways"),
    "VirtualService": Resource(ISTIO, "v1beta1", "virtualservices"),
    "DestinationRule": Resource(ISTIO, "v1beta1", "destinationrules"),
    "ServiceEntry": Resource(ISTIO, "v1beta1", "serviceentries"),
    "Sidecar": Resource(ISTIO, "v1beta1", "sidecars"),
}


def resource(kind: str) -> Resource:
    try:
        return RESOURCES[kind]
    except KeyError:
        raise InputError(f'unknown kind "{kind}" (known: {", ".join(sorted(RESOURCES))})') from None


def object_key(obj: Mapping[str, object], default_namespace: str) -> tuple[str, str | None, str]:
    meta = obj.get("metadata") or {}
    assert isinstance(meta, Mapping)
    kind = str(obj.get("kind"))
    namespace = None if not resource(kind).namespaced else str(meta.get("namespace") or default_namespace)
    return kind, namespace, str(meta.get("name"))


def describe(kind: str, namespace: str | None, name: str) -> str:
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


class KubeClient:
    """Talks to one API server (a cluster or the lab) with the credentials of a kubeconfig."""

    def __init__(self, kubeconfig: str | Path | None = None, context: str | None = None) -> None:
        configuration = client.Configuration()
        try:
            config.load_kube_config(
                config_file=str(kubeconfig) if kubeconfig else None,
                context=context,
                client_configuration=configuration,
            )
        except config.ConfigException as exc:
            raise TargetError(f"kubeconfig {kubeconfig or '~/.kube/config'}: {exc}") from None
        except FileNotFoundError:
            raise TargetError(f"kubeconfig {kubeconfig}: file not found") from None
        except (OSError, ValueError, TypeError, KeyError, AttributeError, yaml.YAMLError) as exc:
            # unreadable, not YAML, or not shaped like a kubeconfig; the exception text never carries
            # credentials, but only its type is reported to be sure
            raise TargetError(
                f"kubeconfig {kubeconfig or '~/.kube/config'}: not a usable kubeconfig ({type(exc).__name__})"
            ) from None
        configuration.retries = 0
        self.host = configuration.host
        self.api = client.ApiClient(configuration)
        self.identity = self._identity(configuration)

    @staticmethod
    def _identity(configuration: client.Configuration) -> str:
        if configuration.cert_file:
            return f"client certificate {Path(configuration.cert_file).name}"
        if configuration.api_key.get("authorization") or configuration.api_key.get("BearerToken"):
            return "bearer token"  # never the token itself
        return "anonymous"

    def close(self) -> None:
        self.api.close()

    # -- transport -------------------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: object = None,
        content_type: str = "application/json",
        what: str = "",
    ) -> dict | None:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            _, url, header_params, serialized, _ = self.api.param_serialize(
                method,
                path,
                query_params=list((query or {}).items()),
                header_params=headers,
                auth_settings=["BearerToken"],
                # JSON bodies go as objects: the client serializes them itself (a string would be encoded
                # twice, as one JSON string); other types (apply-patch+yaml) go as text, sent verbatim.
                body=body if body is None or _is_json(content_type) else json.dumps(body),
            )
            response = self.api.call_api(
                method, url, header_params=header_params, body=serialized, _request_timeout=(5, 30)
            )
            response.read()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TargetError(f"cannot reach the Kubernetes API at {self.host}: {_reason(exc)}") from None
        status, data = response.status, response.data or b""
        if status == 404 and method == "GET":
            return None
        if status >= 400:
            raise _api_error(status, data, what or path, self.host)
        if not data:
            return None
        try:
            payload = json.loads(data)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise TargetError(
                f"{what or path}: the API server at {self.host} answered HTTP {status} with something that "
                "is not a JSON object (is this a Kubernetes API server?)"
            )
        return payload

    # -- verbs -----------------------------------------------------------------------------------------------
    def get(self, kind: str, namespace: str | None, name: str) -> dict | None:
        res = resource(kind)
        return self.request("GET", res.path(namespace, name), what=describe(kind, namespace, name))

    def list(self, kind: str, namespace: str | None = None, selector: str | None = None) -> list[dict]:
        res = resource(kind)
        query = {"labelSelector": selector} if selector else None
        data = self.request("GET", res.path(namespace), query=query, what=f"{kind} list") or {}
        items = data.get("items") or []
        for item in items:  # list items carry no kind/apiVersion
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", f"{res.group}/{res.version}" if res.group else res.version)
        return items

    def apply(self, obj: Mapping[str, object], namespace: str) -> dict | None:
        """Server-side apply one object (create or update), forcing ownership of the fields it sets."""
        kind, ns, name = object_key(obj, namespace)
        body = dict(obj)
        metadata = body.get("metadata")
        meta = dict(metadata) if isinstance(metadata, Mapping) else {}
        if ns:
            meta["namespace"] = ns
        meta.pop("resourceVersion", None)
        body["metadata"] = meta
        group_version = str(obj.get("apiVersion"))
        version = group_version.split("/")[-1]
        return self.request(
            "PATCH",
            resource(kind).path(ns, name, version=version),
            query={"fieldManager": FIELD_MANAGER, "force": "true"},
            body=body,
            content_type="application/apply-patch+yaml",
            what=describe(kind, ns, name),
        )

    def replace(self, obj: Mapping[str, object]) -> dict | None:
        kind, ns, name = object_key(obj, "default")
        version = str(obj.get("apiVersion")).split("/")[-1]
        return self.request(
            "PUT",
            resource(kind).path(ns, name, version=version),
            body=dict(obj),
            what=describe(kind, ns, name),
        )

    def create(self, obj: Mapping[str, object]) -> dict | None:
        kind, ns, name = object_key(obj, "default")
        version = str(obj.get("apiVersion")).split("/")[-1]
        return self.request(
            "POST",
            resource(kind).path(ns, None, version=version),
            body=dict(obj),
            what=describe(kind, ns, name),
        )

    def delete(self, kind: str, namespace: str | None, name: str) -> bool:
        try:
            self.request("DELETE", resource(kind).path(namespace, name), what=describe(kind, namespace, name))
        except TargetError as exc:
            if " not found" in str(exc):
                return False
            raise
        return True

    def server_version(self) -> str:
        data = self.request("GET", "/version", what="server version") or {}
        return str(data.get("gitVersion", "unknown"))


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    text = str(reason or exc)
    for marker in (
        "Connection refused",
        "timed out",
        "Name or service not known",
        "CERTIFICATE_VERIFY_FAILED",
    ):
        if marker in text:
            return {"CERTIFICATE_VERIFY_FAILED": "TLS certificate verification failed"}.get(
                marker, marker.lower()
            )
    return text.splitlines()[0][:200]


def _api_error(status: int, data: bytes, what: str, host: str) -> Exception:
    try:
        payload = json.loads(data)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and payload.get("message"):
        message = str(payload["message"])
    else:
        message = data.decode(errors="replace")
    message = " ".join(message.split())[:500]
    if status in (401, 403):
        return TargetError(f"{what}: the API server at {host} refused access ({status}): {message}")
    if status == 404:
        return TargetError(f"{what}: not found: {message}")
    if status in (400, 409, 415, 422):
        return InputError(f"{what}: rejected by the API server ({status}): {message}")
    return TargetError(f"{what}: API server error {status}: {message}")


__all__ = ["FIELD_MANAGER", "ApiException", "KubeClient", "Resource", "object_key", "resource"]
