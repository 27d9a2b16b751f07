"""Discovery and OpenAPI documents, built from the kinds table.

Legacy discovery (`APIVersions`, `APIGroupList`, `APIResourceList`) is what the Python client uses and
what kubectl falls back to; aggregated discovery (`APIGroupDiscoveryList` v2) is served only when the
Accept header asks for it. The OpenAPI v3 documents carry just what `kubectl apply` needs to hand
validation to the server: a `patch` operation per kind with its GVK and a `fieldValidation` parameter.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from harness.lab.kinds import KINDS, ResourceType, group_versions, kinds_in

Obj = dict[str, Any]

KUBE_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4",
    "gitCommit": "59526cd4867447956156ae3a602fcbac10a2c335",
    "gitTreeState": "clean",
    "buildDate": "2025-04-22T16:00:00Z",
    "goVersion": "go1.23.6",
    "compiler": "gc",
    "platform": "linux/amd64",
}
AGGREGATED_CT = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
_SUB_VERBS = {"status": ["get", "patch", "update"], "scale": ["get", "patch", "update"], "log": ["get"]}


def _gv(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def api_versions() -> Obj:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    }


def api_group(group: str) -> Obj:
    versions = group_versions()[group]
    entries = [{"groupVersion": _gv(group, v), "version": v} for v in versions]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": entries,
        "preferredVersion": entries[0],
    }


def api_group_list() -> Obj:
    groups = [api_group(g) for g in group_versions() if g]
    for g in groups:
        g.pop("kind")
        g.pop("apiVersion")
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _resource_entries(rt: ResourceType) -> list[Obj]:
    main: Obj = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": VERBS,
    }
    if rt.short_names:
        main["shortNames"] = list(rt.short_names)
    if rt.categories:
        main["categories"] = list(rt.categories)
    out = [main]
    for sub in rt.subresources:
        entry: Obj = {
            "name": f"{rt.plural}/{sub}",
            "singularName": "",
            "namespaced": rt.namespaced,
            "kind": "Scale" if sub == "scale" else rt.kind,
            "verbs": _SUB_VERBS[sub],
        }
        if sub == "scale":
            entry.update(group="autoscaling", version="v1")
        out.append(entry)
    return out


def api_resource_list(group: str, version: str) -> Obj | None:
    kinds = kinds_in(group, version)
    if not kinds:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": _gv(group, version),
        "resources": [e for rt in kinds for e in _resource_entries(rt)],
    }


def aggregated(core: bool) -> Obj:
    """APIGroupDiscoveryList for `/api` (core) or `/apis` (every named group)."""
    items = []
    for group, versions in group_versions().items():
        if (group == "") != core:
            continue
        vers = []
        for v in versions:
            resources = []
            for rt in kinds_in(group, v):
                gvk = {"group": group, "version": v, "kind": rt.kind}
                res: Obj = {
                    "resource": rt.plural,
                    "singularResource": rt.singular,
                    "responseKind": gvk,
                    "scope": "Namespaced" if rt.namespaced else "Cluster",
                    "verbs": VERBS,
                    "subresources": [
                        {
                            "subresource": sub,
                            "responseKind": (
                                {"group": "autoscaling", "version": "v1", "kind": "Scale"}
                                if sub == "scale"
                                else gvk
                            ),
                            "verbs": _SUB_VERBS[sub],
                        }
                        for sub in rt.subresources
                    ],
                }
                if rt.short_names:
                    res["shortNames"] = list(rt.short_names)
                if rt.categories:
                    res["categories"] = list(rt.categories)
                resources.append(res)
            vers.append({"version": v, "resources": resources, "freshness": "Current"})
        items.append({"metadata": {"name": group}, "versions": vers})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }


# ------------------------------------------------------------------------------------------------ OpenAPI


def _prefix(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def openapi_document(group: str, version: str) -> Obj | None:
    kinds = kinds_in(group, version)
    if not kinds:
        return None
    paths: Obj = {}
    for rt in kinds:
        gvk = {"group": group, "version": version, "kind": rt.kind}
        base = "/" + _prefix(group, version) + ("/namespaces/{namespace}" if rt.namespaced else "")
        params = [
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
            {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
            {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
        ]

        def op(verb: str, gvk: Obj = gvk, params: list[Obj] = params) -> Obj:
            return {
                "operationId": verb,
                "parameters": params,
                "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": verb,
                "x-kubernetes-group-version-kind": gvk,
            }

        paths[f"{base}/{rt.plural}"] = {"get": op("list"), "post": op("post")}
        paths[f"{base}/{rt.plural}/{{name}}"] = {
            "get": op("get"),
            "put": op("put"),
            "patch": op("patch"),
            "delete": op("delete"),
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBE_VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": {}},
    }


def openapi_index() -> Obj:
    paths: Obj = {}
    for group, versions in group_versions().items():
        for v in versions:
            doc = json.dumps(openapi_document(group, v), sort_keys=True).encode()
            digest = hashlib.sha512(doc).hexdigest()[:32].upper()
            key = _prefix(group, v)
            paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {"paths": paths}


def all_group_versions() -> list[tuple[str, str]]:
    return [(rt.group, v) for rt in KINDS for v in rt.versions]
