"""Reading Kubernetes manifests: YAML text in, validated object dicts out, errors that name file and document.

Pure apart from `load_manifest_file`, the one function that reads a file.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path

import yaml

from harness.errors import InputError

# Kinds the harness knows how to apply, with the apiVersions a real cluster serves for them.
KNOWN_KINDS: dict[str, tuple[str, ...]] = {
    "Namespace": ("v1",),
    "Service": ("v1",),
    "ServiceAccount": ("v1",),
    "ConfigMap": ("v1",),
    "Pod": ("v1",),
    "Deployment": ("apps/v1",),
    "HorizontalPodAutoscaler": ("autoscaling/v2", "autoscaling/v1"),
    **{
        kind: ("networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3")
        for kind in ("Gateway", "VirtualService", "DestinationRule", "ServiceEntry", "Sidecar")
    },
}


def parse_manifests(text: str, source: str = "<input>") -> list[dict]:
    """Parse a multi-document YAML string into Kubernetes objects, refusing anything that is not one."""
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise InputError(f"{where}: malformed YAML: {yaml_problem(exc)}") from None
    except (ValueError, RecursionError) as exc:  # `2001-13-45`, `!!int x`, nesting deeper than Python's stack
        raise InputError(f"{source}: malformed YAML: {yaml_problem(exc)}") from None
    objects = []
    for index, doc in enumerate(documents, start=1):
        if doc is None:
            continue
        objects.append(check_object(doc, f"{source} (document {index})"))
    return objects


def check_object(doc: object, where: str) -> dict:
    if not isinstance(doc, Mapping):
        raise InputError(f"{where}: not a Kubernetes object (expected a mapping, got {type(doc).__name__})")
    kind, api_version = doc.get("kind"), doc.get("apiVersion")
    if not kind or not api_version:
        missing = " and ".join(k for k in ("apiVersion", "kind") if not doc.get(k))
        raise InputError(f"{where}: not a Kubernetes object (missing {missing})")
    if kind not in KNOWN_KINDS:
        raise InputError(f'{where}: unknown kind "{kind}" (known: {", ".join(sorted(KNOWN_KINDS))})')
    if api_version not in KNOWN_KINDS[kind]:
        raise InputError(
            f'{where}: no matches for kind "{kind}" in version "{api_version}" '
            f"(served: {', '.join(KNOWN_KINDS[kind])})"
        )
    meta = doc.get("metadata")
    if not isinstance(meta, Mapping) or not meta.get("name") or not isinstance(meta.get("name"), str):
        raise InputError(f"{where}: {kind} has no metadata.name")
    return _as_json(doc, where)


def yaml_problem(exc: BaseException) -> str:
    """One line saying what is wrong with a YAML text (PyYAML's messages span several lines)."""
    text = getattr(exc, "problem", None) or str(exc) or type(exc).__name__
    if isinstance(exc, RecursionError):
        text = "nested too deeply"
    return " ".join(str(text).split())[:200]


def _json_scalar(value: object) -> object:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()  # what kubectl sends for an unquoted YAML timestamp
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()  # !!binary: the API's own encoding of bytes
    raise TypeError(f"a YAML {type(value).__name__} has no JSON form")


def _as_json(doc: Mapping[str, object], where: str) -> dict:
    """The object as the API server will see it (JSON), refusing what JSON cannot carry."""
    try:
        return json.loads(json.dumps(doc, default=_json_scalar))
    except (TypeError, ValueError, RecursionError) as exc:  # sets, non-string keys, alias cycles
        raise InputError(f"{where}: cannot be sent as JSON: {yaml_problem(exc)}") from None


def load_manifest_file(path: Path) -> list[dict]:
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise InputError(f"{path}: manifest file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read manifest: {exc}") from None
    return parse_manifests(text, str(path))


def matches_selector(labels: Mapping[str, str], selector: str | None) -> bool:
    """kubectl's client-side `-l` filter: equality (=, ==, !=), set (in, notin) and existence (x, !x)."""
    if not selector:
        return True
    for term in _split_terms(selector):
        term = term.strip()
        if not term:
            continue
        if " notin " in term or " in " in term:
            negate = " notin " in term
            key, _, values = term.partition(" notin " if negate else " in ")
            choices = {v.strip() for v in values.strip().strip("()").split(",")}
            present = labels.get(key.strip()) in choices
            if present == negate:
                return False
        elif "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def _split_terms(selector: str) -> list[str]:
    terms, depth, current = [], 0, ""
    for char in selector:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return terms
