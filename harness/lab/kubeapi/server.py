"""The lab's Kubernetes API server: HTTPS on loopback, enough of the API for kubectl and the Python client.

Routing is by hand over one catch-all aiohttp route: `/version`, discovery, `/openapi/v3`, and
`/api/v1/...` or `/apis/G/V/...` resource paths with optional `namespaces/NS/` and a subresource.
Every refusal is a Kubernetes `Status` (see `StoreError`); unexpected failures answer 500 with a Status
and never stop the server. The store is touched only from this server's event loop.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import datetime as dt
import hmac
import ipaddress
import json
import logging
import os
import secrets
import ssl
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harness.lab.kinds import ResourceType, by_plural, group_versions
from harness.lab.kubeapi import discovery, tables
from harness.lab.kubeapi.convert import to_storage, to_version
from harness.lab.kubeapi.defaults import apply_defaults, check_strict
from harness.lab.kubeapi.patch import json_patch, merge_patch, strategic_merge
from harness.lab.kubeapi.protobuf import ProtobufError, decode_object
from harness.lab.store import (
    ObjectStore,
    StoreError,
    bad_request,
    matches_selector,
    not_found,
    parse_selector,
)

log = logging.getLogger(__name__)

Obj = dict[str, Any]

JSON_CT = "application/json"
PROTOBUF_CT = "application/vnd.kubernetes.protobuf"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
OPENAPI_V2_PB = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
UNKNOWN_FORMAT = (
    "the body of the request was in an unknown format - accepted media types include: "
    "application/json, application/yaml, application/vnd.kubernetes.protobuf"
)


@dataclass
class KubeApiConfig:
    host: str = "127.0.0.1"
    port: int = 0
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    cert_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kubeapi-cert-")))


class LogSource(Protocol):
    def pod_log(self, namespace: str, pod: str, container: str, *, tail_lines: int | None) -> str | None: ...


def _prune_unapplied(served: Obj, previous: object, current: object) -> None:
    """Remove from `served` what `previous` applied and `current` no longer applies (maps by key, lists of
    named items by name; other lists are atomic and simply replaced by the merge)."""
    if not isinstance(previous, dict) or not isinstance(current, dict) or not isinstance(served, dict):
        return
    for key, before in previous.items():
        if key not in current:
            served.pop(key, None)
            continue
        after, live = current[key], served.get(key)
        if isinstance(before, dict) and isinstance(after, dict) and isinstance(live, dict):
            _prune_unapplied(live, before, after)
        elif isinstance(before, list) and isinstance(after, list) and isinstance(live, list):
            names_before = {i.get("name") for i in before if isinstance(i, dict) and "name" in i}
            names_after = {i.get("name") for i in after if isinstance(i, dict) and "name" in i}
            gone = names_before - names_after
            if gone:
                served[key] = [i for i in live if not (isinstance(i, dict) and i.get("name") in gone)]
            by_name = {i.get("name"): i for i in after if isinstance(i, dict) and "name" in i}
            for item in served[key]:
                if isinstance(item, dict) and item.get("name") in by_name:
                    old_item = next(
                        (b for b in before if isinstance(b, dict) and b.get("name") == item["name"]), None
                    )
                    if old_item is not None:
                        _prune_unapplied(item, old_item, by_name[item["name"]])


def _status_error(code: int, reason: str, message: str) -> StoreError:
    return StoreError(code, reason, message)


def not_found_path() -> StoreError:
    return _status_error(404, "NotFound", "the server could not find the requested resource")


def _json_response(data: Any, status: int = 200, content_type: str = JSON_CT) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(data, separators=(",", ":")).encode(),
        headers={"Content-Type": content_type},
    )


def make_certificate(cert_dir: Path) -> tuple[Path, Path, bytes]:
    """A self-signed certificate for 127.0.0.1/localhost, valid as its own CA; returns (cert, key, pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bookinfo-lab-apiserver")])
    now = dt.datetime.now(dt.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_dir.mkdir(parents=True, exist_ok=True)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path, key_path = cert_dir / "cert.pem", cert_dir / "key.pem"
    cert_path.write_bytes(pem)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    os.chmod(key_path, 0o600)
    return cert_path, key_path, pem


# ------------------------------------------------------------------------------------------- requests


@dataclass
class Target:
    """A parsed resource URL."""

    rt: ResourceType
    version: str
    namespace: str | None
    name: str | None
    sub: str | None


def parse_field_selector(text: str | None) -> list[tuple[str, str, str]]:
    """`metadata.name=x,involvedObject.kind!=Pod` → [(path, op, value)]; 400 when malformed."""
    if not text:
        return []
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        for op in ("!=", "==", "="):
            if op in part:
                path, value = part.split(op, 1)
                out.append((path.strip(), "!=" if op == "!=" else "=", value.strip()))
                break
        else:
            raise bad_request(f'invalid field selector: "{text}": "{part}" has no operator')
    return out


def _field_value(obj: Obj, path: str) -> str:
    cur: Any = obj
    for p in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def matches_fields(obj: Obj, reqs: list[tuple[str, str, str]]) -> bool:
    for path, op, value in reqs:
        equal = _field_value(obj, path) == value
        if (op == "=") != equal:
            return False
    return True


def _wants_table(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "as=Table" in accept and "g=meta.k8s.io" in accept


def _media_type(request: web.Request) -> str:
    return request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


def _decode_json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad_request(f"{UNKNOWN_FORMAT}: {exc}") from None


def _decode_yaml(raw: bytes) -> Any:
    try:
        return yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise bad_request(f"error decoding YAML: {exc}") from None


def _decode_object(raw: bytes, media: str) -> Obj:
    if media == PROTOBUF_CT:
        try:
            obj: Any = decode_object(raw)
        except ProtobufError as exc:
            raise bad_request(f"{UNKNOWN_FORMAT}: {exc}") from None
    elif media in ("application/yaml", "application/x-yaml", "text/yaml"):
        obj = _decode_yaml(raw)
    elif media in ("", JSON_CT, "*/*", "text/plain"):
        obj = _decode_json(raw)
    else:
        raise _status_error(
            415, "UnsupportedMediaType", f'the body of the request was in an unknown format: "{media}"'
        )
    if not isinstance(obj, dict):
        raise bad_request(f"{UNKNOWN_FORMAT}: expected a JSON object")
    return obj


def _metadata(obj: Obj) -> Obj:
    md = obj.get("metadata")
    if md is None:
        md = obj["metadata"] = {}
    if not isinstance(md, dict):
        raise bad_request("metadata must be an object")
    return md


# --------------------------------------------------------------------------------------------- server


class KubeApiServer:
    """Serves `store` over HTTPS; see the module docstring."""

    def __init__(self, store: ObjectStore, config: KubeApiConfig, logs: LogSource) -> None:
        self.store = store
        self.config = config
        self.logs = logs
        self.url = ""
        self.ca_pem = b""
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        # (uid, fieldManager) -> the configuration that manager last applied (server-side apply ownership)
        self._applied: dict[tuple[str, str], Obj] = {}

    # ---- lifecycle

    async def start(self) -> None:
        cert, key, self.ca_pem = make_certificate(Path(self.config.cert_dir))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        ctx.set_alpn_protocols(["http/1.1"])
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._stopping = asyncio.Event()
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port, ssl_context=ctx)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"https://{self.config.host}:{port}"

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def write_kubeconfig(
        self, path: Path, *, context: str = "bookinfo-lab", namespace: str = "default"
    ) -> Path:
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": context,
                    "cluster": {
                        "server": self.url,
                        "certificate-authority-data": base64.b64encode(self.ca_pem).decode(),
                    },
                }
            ],
            "users": [{"name": context, "user": {"token": self.config.token}}],
            "contexts": [
                {"name": context, "context": {"cluster": context, "user": context, "namespace": namespace}}
            ],
            "current-context": context,
            "preferences": {},
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            yaml.safe_dump(cfg, fh, sort_keys=False)
        os.chmod(path, 0o600)
        return path

    # ---- plumbing

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            self._authenticate(request)
            return await handler(request)
        except StoreError as exc:
            return _json_response(exc.status(), exc.code)
        except web.HTTPException:
            raise
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("kubeapi: %s %s failed", request.method, request.path_qs)
            err = _status_error(
                500, "InternalError", f"an error on the server has prevented the request: {exc}"
            )
            return _json_response(err.status(), 500)

    def _authenticate(self, request: web.Request) -> None:
        header = request.headers.get("Authorization")
        public = request.path in ("/version", "/healthz", "/livez", "/readyz") and request.method == "GET"
        if header is None and public:
            return
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), self.config.token):
            raise _status_error(401, "Unauthorized", "Unauthorized")

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        method = request.method
        if not parts:
            paths = ["/api", "/api/v1", "/apis", "/openapi/v3", "/version", "/healthz"]
            paths += [f"/apis/{g}/{v}" for g, vs in group_versions().items() if g for v in vs]
            return _json_response({"paths": paths})
        head = parts[0]
        if head in ("healthz", "livez", "readyz") and len(parts) == 1:
            return web.Response(text="ok", content_type="text/plain")
        if head == "version" and len(parts) == 1:
            return _json_response(discovery.KUBE_VERSION)
        if head == "openapi":
            return self._openapi(parts)
        if head == "api":
            if len(parts) == 1:
                return self._discovery_root(request, core=True)
            if parts[1] != "v1":
                raise not_found_path()
            if len(parts) == 2:
                return _json_response(discovery.api_resource_list("", "v1"))
            return await self._resource(request, method, "", "v1", parts[2:])
        if head == "apis":
            if len(parts) == 1:
                return self._discovery_root(request, core=False)
            group = parts[1]
            if group not in group_versions() or not group:
                raise not_found_path()
            if len(parts) == 2:
                return _json_response(discovery.api_group(group))
            version = parts[2]
            listing = discovery.api_resource_list(group, version)
            if listing is None:
                raise not_found_path()
            if len(parts) == 3:
                return _json_response(listing)
            return await self._resource(request, method, group, version, parts[3:])
        raise not_found_path()

    def _discovery_root(self, request: web.Request, *, core: bool) -> web.Response:
        accept = request.headers.get("Accept", "")
        if "as=APIGroupDiscoveryList" in accept and "v=v2;" in accept.replace(" ", "") + ";":
            return _json_response(discovery.aggregated(core), content_type=discovery.AGGREGATED_CT)
        return _json_response(discovery.api_versions() if core else discovery.api_group_list())

    def _openapi(self, parts: list[str]) -> web.Response:
        if parts[1:] == ["v2"]:
            # An empty openapi_v2.Document (zero protobuf bytes): kubectl then skips client-side schema
            # validation for kinds it cannot find, so an unserved apiVersion fails with its
            # "no matches for kind" mapping error instead of "failed to download openapi".
            return web.Response(body=b"", headers={"Content-Type": OPENAPI_V2_PB})
        if parts[1:] == ["v3"]:
            return _json_response(discovery.openapi_index())
        if len(parts) == 4 and parts[1:3] == ["v3", "api"]:
            doc = discovery.openapi_document("", parts[3])
        elif len(parts) == 5 and parts[1:3] == ["v3", "apis"]:
            doc = discovery.openapi_document(parts[3], parts[4])
        else:
            doc = None
        if doc is None:
            raise not_found_path()
        return _json_response(doc)

    # ---- resources

    def _target(self, group: str, version: str, rest: list[str]) -> Target:
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            rt_ns = by_plural(group, version, rest[2])
            if rt_ns is not None and rt_ns.namespaced:
                namespace = rest[1]
                rest = rest[2:]
        rt = by_plural(group, version, rest[0])
        if rt is None or len(rest) > 3:
            raise not_found_path()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub is not None and sub not in rt.subresources:
            raise not_found_path()
        if rt.namespaced and name is not None and namespace is None:
            raise not_found_path()
        return Target(rt, version, namespace, name, sub)

    async def _resource(
        self, request: web.Request, method: str, group: str, version: str, rest: list[str]
    ) -> web.StreamResponse:
        t = self._target(group, version, rest)
        if t.name is None:
            if method == "GET":
                if request.query.get("watch", "").lower() in ("true", "1"):
                    return await self._watch(request, t)
                return self._list(request, t)
            if method == "POST" and (t.namespace is not None or not t.rt.namespaced):
                return await self._create(request, t)
            if method == "DELETE" and (t.namespace is not None or not t.rt.namespaced):
                return self._delete_collection(request, t)
            raise self._method_not_allowed(method)
        if t.sub == "log":
            if method != "GET":
                raise self._method_not_allowed(method)
            return self._pod_log(request, t)
        if t.sub == "scale":
            return await self._scale(request, t, method)
        if t.sub == "status":
            return await self._status(request, t, method)
        if method == "GET":
            return self._get(request, t)
        if method == "PUT":
            return await self._replace(request, t)
        if method == "PATCH":
            return await self._patch(request, t)
        if method == "DELETE":
            return await self._delete(request, t)
        raise self._method_not_allowed(method)

    @staticmethod
    def _method_not_allowed(method: str) -> StoreError:
        return _status_error(
            405,
            "MethodNotAllowed",
            f"the server does not allow this method on the requested resource ({method})",
        )

    def _now(self) -> dt.datetime:
        return self.store.now()

    def _serve(self, request: web.Request, obj: Obj, t: Target, status: int = 200) -> web.Response:
        served = to_version(obj, t.rt, t.version)
        if _wants_table(request):
            include = request.query.get("includeObject", "Metadata")
            rv = str(obj.get("metadata", {}).get("resourceVersion", ""))
            return _json_response(tables.table([served], t.rt, self._now(), rv, include=include), status)
        return _json_response(served, status)

    def _live(self, t: Target) -> Obj:
        assert t.name is not None
        obj = self.store.get(t.rt.kind, t.namespace, t.name)
        if obj is None:
            raise not_found(t.rt.kind, t.name)
        return obj

    def _selected(self, request: web.Request, t: Target) -> list[Obj]:
        fields = parse_field_selector(request.query.get("fieldSelector"))
        objs = self.store.list(t.rt.kind, t.namespace, request.query.get("labelSelector"))
        return [o for o in objs if matches_fields(o, fields)]

    def _list(self, request: web.Request, t: Target) -> web.Response:
        objs = self._selected(request, t)
        rv = str(self.store.resource_version)
        served = [to_version(o, t.rt, t.version) for o in objs]
        if _wants_table(request):
            include = request.query.get("includeObject", "Metadata")
            return _json_response(tables.table(served, t.rt, self._now(), rv, include=include))
        return _json_response(
            {
                "kind": f"{t.rt.kind}List",
                "apiVersion": t.rt.api_version(t.version),
                "metadata": {"resourceVersion": rv},
                "items": served,
            }
        )

    def _get(self, request: web.Request, t: Target) -> web.Response:
        return self._serve(request, self._live(t), t)

    async def _body(self, request: web.Request) -> bytes:
        return await request.read()

    def _prepare_incoming(self, request: web.Request, obj: Obj, t: Target) -> Obj:
        """Check kind/apiVersion/namespace/name of a client's object against the URL; return storage form."""
        rt = t.rt
        expected = rt.api_version(t.version)
        if obj.get("kind") not in (None, "", rt.kind):
            raise bad_request(
                f"the kind in the data ({obj.get('kind')}) does not match the expected kind ({rt.kind})"
            )
        if obj.get("apiVersion") not in (None, "", expected):
            raise bad_request(
                f"the API version in the data ({obj.get('apiVersion')}) does not match the expected "
                f"API version ({expected})"
            )
        obj["kind"] = rt.kind
        obj["apiVersion"] = expected
        md = _metadata(obj)
        if rt.namespaced:
            ns = md.get("namespace") or t.namespace or "default"
            if t.namespace is not None and ns != t.namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            md["namespace"] = ns
        else:
            md.pop("namespace", None)
        if t.name is not None:
            if md.get("name") not in (None, "", t.name):
                raise bad_request(
                    f"the name of the object ({md.get('name')}) does not match the name on the URL ({t.name})"
                )
            md["name"] = t.name
        if request.query.get("fieldValidation") == "Strict":
            check_strict(obj, rt)
        return to_storage(obj, rt, t.version)

    @staticmethod
    def _dry_run(request: web.Request) -> bool:
        values = request.query.getall("dryRun", [])
        for v in values:
            if v != "All":
                raise bad_request(f"unsupported dry run value {v!r}; the only supported value is All")
        return bool(values)

    async def _create(self, request: web.Request, t: Target) -> web.Response:
        obj = _decode_object(await self._body(request), _media_type(request))
        storage = self._prepare_incoming(request, obj, t)
        apply_defaults(storage, t.rt)
        created = self.store.create(storage, dry_run=self._dry_run(request))
        return _json_response(to_version(created, t.rt, t.version), 201)

    def _keep_live_status(self, storage: Obj, live: Obj, rt: ResourceType) -> None:
        if "status" in rt.subresources:
            storage.pop("status", None)
            if "status" in live:
                storage["status"] = live["status"]

    async def _replace(self, request: web.Request, t: Target) -> web.Response:
        obj = _decode_object(await self._body(request), _media_type(request))
        storage = self._prepare_incoming(request, obj, t)
        live = self._live(t)
        self._keep_live_status(storage, live, t.rt)
        updated = self.store.update(storage, dry_run=self._dry_run(request))
        return _json_response(to_version(updated, t.rt, t.version))

    def _apply_patch(self, served: Obj, raw: bytes, media: str, rt: ResourceType) -> Obj:
        if media == JSON_PATCH:
            return json_patch(served, _decode_json(raw))
        patch = _decode_json(raw)
        if not isinstance(patch, dict):
            raise bad_request(f"{UNKNOWN_FORMAT}: a patch must be a JSON object")
        if media == MERGE_PATCH:
            return merge_patch(served, patch)
        if media == STRATEGIC_PATCH:
            if rt.is_custom:
                raise _status_error(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types include: "
                    f"{JSON_PATCH}, {MERGE_PATCH}, {APPLY_PATCH}",
                )
            return strategic_merge(served, patch)
        raise _status_error(
            415,
            "UnsupportedMediaType",
            f'the body of the request was in an unknown format - media type "{media}" is not supported '
            "for PATCH",
        )

    async def _patch(self, request: web.Request, t: Target) -> web.Response:
        raw = await self._body(request)
        media = _media_type(request)
        dry = self._dry_run(request)
        if media == APPLY_PATCH:
            return self._server_side_apply(request, t, raw, dry)
        live = self._live(t)
        served = to_version(live, t.rt, t.version)
        patched = self._apply_patch(served, raw, media, t.rt)
        if not isinstance(patched, dict):
            raise bad_request("the patched object is not a JSON object")
        patched["apiVersion"] = t.rt.api_version(t.version)
        storage = self._prepare_incoming(request, patched, t)
        self._keep_live_status(storage, live, t.rt)
        updated = self.store.update(storage, dry_run=dry)
        return _json_response(to_version(updated, t.rt, t.version))

    def _server_side_apply(self, request: web.Request, t: Target, raw: bytes, dry: bool) -> web.Response:
        try:
            applied = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            applied = _decode_yaml(raw)
        if not isinstance(applied, dict):
            raise bad_request(f"{UNKNOWN_FORMAT}: an applied configuration must be an object")
        if not applied.get("apiVersion") or not applied.get("kind"):
            raise bad_request(
                "invalid object type: apiVersion and kind must be set in an applied configuration"
            )
        _metadata(applied).pop("managedFields", None)
        live = self.store.get(t.rt.kind, t.namespace, t.name or "")
        if live is None:
            storage = self._prepare_incoming(request, applied, t)
            apply_defaults(storage, t.rt)
            created = self.store.create(storage, dry_run=dry)
            if not dry:
                body = {k: v for k, v in applied.items() if k not in ("apiVersion", "kind")}
                self._applied[(created["metadata"].get("uid", ""), request.query.get("fieldManager", ""))] = (
                    body
                )
            return _json_response(to_version(created, t.rt, t.version), 201)
        served = to_version(live, t.rt, t.version)
        body = {k: v for k, v in applied.items() if k not in ("apiVersion", "kind")}
        manager = request.query.get("fieldManager", "")
        key = (live["metadata"].get("uid", ""), manager)
        previous = self._applied.get(key)
        if previous is not None:
            # Fields this manager applied before and no longer lists are dropped (what managedFields give a
            # real server); fields set by anyone else stay.
            _prune_unapplied(served, previous, body)
        merged = merge_patch(served, body) if t.rt.is_custom else strategic_merge(served, body)
        merged["apiVersion"] = applied["apiVersion"]
        storage = self._prepare_incoming(request, merged, t)
        self._keep_live_status(storage, live, t.rt)
        updated = self.store.update(storage, check_version=False, dry_run=dry)
        if not dry:
            self._applied[key] = copy.deepcopy(body)
        return _json_response(to_version(updated, t.rt, t.version))

    async def _delete(self, request: web.Request, t: Target) -> web.Response:
        raw = await self._body(request)
        if raw.strip():
            opts = _decode_json(raw)
            if not isinstance(opts, dict):
                raise bad_request(f"{UNKNOWN_FORMAT}: DeleteOptions must be an object")
            dry = opts.get("dryRun") == ["All"] or self._dry_run(request)
        else:
            dry = self._dry_run(request)
        assert t.name is not None
        deleted = self.store.delete(t.rt.kind, t.namespace, t.name, dry_run=dry)
        return _json_response(to_version(deleted, t.rt, t.version))

    def _delete_collection(self, request: web.Request, t: Target) -> web.Response:
        dry = self._dry_run(request)
        gone = [
            self.store.delete(t.rt.kind, o["metadata"].get("namespace"), o["metadata"]["name"], dry_run=dry)
            for o in self._selected(request, t)
        ]
        return _json_response(
            {
                "kind": f"{t.rt.kind}List",
                "apiVersion": t.rt.api_version(t.version),
                "metadata": {"resourceVersion": str(self.store.resource_version)},
                "items": [to_version(o, t.rt, t.version) for o in gone],
            }
        )

    # ---- subresources

    async def _status(self, request: web.Request, t: Target, method: str) -> web.Response:
        live = self._live(t)
        if method == "GET":
            return self._serve(request, live, t)
        raw = await self._body(request)
        if method == "PUT":
            new = _decode_object(raw, _media_type(request))
        elif method == "PATCH":
            new = self._apply_patch(to_version(live, t.rt, t.version), raw, _media_type(request), t.rt)
        else:
            raise self._method_not_allowed(method)
        new = to_storage(new, t.rt, t.version)
        status = new.get("status")
        if not isinstance(status, dict):
            status = {}
        if self._dry_run(request):
            return _json_response(to_version({**live, "status": status}, t.rt, t.version))
        updated = self.store.set_status(t.rt.kind, t.namespace, t.name or "", status)
        return _json_response(to_version(updated, t.rt, t.version))

    @staticmethod
    def _scale_of(obj: Obj) -> Obj:
        md = obj["metadata"]
        sel = (obj.get("spec") or {}).get("selector") or {}
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: md[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in md
            },
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
            "status": {
                "replicas": (obj.get("status") or {}).get("replicas", 0),
                "selector": ",".join(f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())),
            },
        }

    async def _scale(self, request: web.Request, t: Target, method: str) -> web.Response:
        live = self._live(t)
        scale = self._scale_of(live)
        if method == "GET":
            return _json_response(scale)
        raw = await self._body(request)
        if method == "PUT":
            new = _decode_object(raw, _media_type(request))
        elif method == "PATCH":
            media = _media_type(request)
            new = self._apply_patch(scale, raw, MERGE_PATCH if media == STRATEGIC_PATCH else media, t.rt)
        else:
            raise self._method_not_allowed(method)
        for part in ("metadata", "spec"):
            if new.get(part) is not None and not isinstance(new.get(part), dict):
                raise StoreError(400, "BadRequest", f"Scale {part} must be an object")
        replicas = (new.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise StoreError(
                422, "Invalid", f'Scale.autoscaling "{t.name}" is invalid: spec.replicas: Invalid value'
            )
        live.setdefault("spec", {})["replicas"] = replicas
        rv = (new.get("metadata") or {}).get("resourceVersion")
        if rv:
            live["metadata"]["resourceVersion"] = rv
        updated = self.store.update(live, dry_run=self._dry_run(request))
        return _json_response(self._scale_of(updated))

    def _pod_log(self, request: web.Request, t: Target) -> web.Response:
        pod = self._live(t)
        spec = pod.get("spec") or {}
        names = [c.get("name") for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])]
        container = request.query.get("container")
        if not container:
            main = [c.get("name") for c in spec.get("containers") or []]
            if len(main) != 1:
                raise bad_request(
                    f"a container name must be specified for pod {t.name}, "
                    f"choose one of: [{' '.join(map(str, names))}]"
                )
            container = str(main[0])
        if container not in names:
            raise bad_request(f"container {container} is not valid for pod {t.name}")
        tail_text = request.query.get("tailLines")
        tail: int | None = None
        if tail_text not in (None, ""):
            try:
                tail = int(tail_text)
            except ValueError:
                raise bad_request(f"tailLines: invalid value {tail_text!r}") from None
            if tail < 0:
                raise bad_request("tailLines: must be greater than or equal to 0")
        text = self.logs.pod_log(t.namespace or "default", t.name or "", container, tail_lines=tail)
        if text is None:
            raise bad_request(f"container {container} is not valid for pod {t.name}")
        return web.Response(text=text, content_type="text/plain")

    # ---- watch

    async def _watch(self, request: web.Request, t: Target) -> web.StreamResponse:
        labels = parse_selector(request.query.get("labelSelector"))
        fields = parse_field_selector(request.query.get("fieldSelector"))
        rv_text = request.query.get("resourceVersion", "")
        if rv_text and not rv_text.isdigit():
            raise bad_request(f"invalid resourceVersion {rv_text!r}")
        timeout_text = request.query.get("timeoutSeconds", "")
        if timeout_text and not timeout_text.isdigit():
            raise bad_request(f"invalid timeoutSeconds {timeout_text!r}")
        want_table = _wants_table(request)
        include = request.query.get("includeObject", "Metadata")
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Obj, Obj | None]] = asyncio.Queue()
        kind = t.rt.kind

        def on_event(etype: str, obj: Obj, old: Obj | None) -> None:
            if obj.get("kind") == kind:
                loop.call_soon_threadsafe(queue.put_nowait, (etype, obj, old))

        def selected(obj: Obj | None) -> bool:
            if obj is None:
                return False
            ns_ok = t.namespace is None or (obj.get("metadata") or {}).get("namespace") == t.namespace
            return (
                ns_ok
                and matches_selector(obj["metadata"].get("labels"), labels)
                and matches_fields(obj, fields)
            )

        unsubscribe = self.store.subscribe(on_event)
        try:
            expired: StoreError | None = None
            initial: list[tuple[str, Obj, Obj | None]] = []
            if rv_text in ("", "0"):
                initial = [("ADDED", o, None) for o in self.store.list(kind, t.namespace)]
            else:
                try:
                    initial = [
                        (e, o, None)
                        for e, o in self.store.events_since(int(rv_text))
                        if o.get("kind") == kind
                    ]
                except StoreError as exc:
                    expired = exc
            resp = web.StreamResponse(status=200, headers={"Content-Type": JSON_CT})
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            first = [True]

            async def send(etype: str, obj: Obj) -> None:
                served = to_version(obj, t.rt, t.version)
                if want_table:
                    rv = str(obj["metadata"].get("resourceVersion", ""))
                    served = tables.table([served], t.rt, self._now(), rv, include=include, columns=first[0])
                    first[0] = False
                line = json.dumps({"type": etype, "object": served}, separators=(",", ":")) + "\n"
                await resp.write(line.encode())

            if expired is not None:
                line = json.dumps({"type": "ERROR", "object": expired.status()}) + "\n"
                await resp.write(line.encode())
                return resp
            for etype, obj, _ in initial:
                if selected(obj):
                    await send(etype, obj)
            deadline = loop.time() + int(timeout_text) if timeout_text else None
            while not self._stopping.is_set():
                wait = 1.0 if deadline is None else min(1.0, deadline - loop.time())
                if wait <= 0:
                    break
                try:
                    etype, obj, old = await asyncio.wait_for(queue.get(), wait)
                except TimeoutError:
                    transport = request.transport
                    if transport is None or transport.is_closing():
                        break
                    continue
                new_in, old_in = selected(obj), selected(old)
                if etype == "MODIFIED" and new_in != old_in:
                    etype = "ADDED" if new_in else "DELETED"
                if new_in or (etype == "DELETED" and (old_in or selected(obj))):
                    await send(etype, obj)
            with contextlib.suppress(ConnectionError, RuntimeError):
                await resp.write_eof()
            return resp
        except ConnectionError:
            return resp
        finally:
            unsubscribe()
