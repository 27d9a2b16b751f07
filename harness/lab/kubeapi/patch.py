"""Patch semantics the API applies: JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge.

Strategic merge covers what kubectl sends for built-in kinds: maps merge recursively, `null` deletes, lists
of objects merge by their key (containers/env/volumes/ports by name, volumeMounts by mountPath, container
ports by containerPort, Service ports by port), and the `$patch`, `$retainKeys`, `$setElementOrder/...` and
`$deleteFromPrimitiveList/...` directives are honoured. Functions never mutate their inputs.
"""

from __future__ import annotations

import copy
from typing import Any

from harness.lab.store import StoreError

Json = Any


def _invalid_patch(message: str) -> StoreError:
    return StoreError(422, "Invalid", message)


# ------------------------------------------------------------------------------------------ merge patch


def merge_patch(target: Json, patch: Json) -> Json:
    """RFC 7386: objects merge recursively, `null` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


# ------------------------------------------------------------------------------------------- JSON patch


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _invalid_patch(f"invalid JSON pointer {path!r}")
    return [_unescape(t) for t in path[1:].split("/")]


def _index(container: list[Any], token: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit():
        raise _invalid_patch(f"invalid array index {token!r}")
    i = int(token)
    if i > len(container) or (i == len(container) and not allow_end):
        raise _invalid_patch(f"array index {i} out of bounds")
    return i


def _walk(doc: Json, tokens: list[str]) -> Json:
    cur = doc
    for t in tokens:
        if isinstance(cur, dict):
            if t not in cur:
                raise _invalid_patch(f"doc is missing path: /{'/'.join(tokens)}")
            cur = cur[t]
        elif isinstance(cur, list):
            cur = cur[_index(cur, t, allow_end=False)]
        else:
            raise _invalid_patch(f"doc is missing path: /{'/'.join(tokens)}")
    return cur


def _add(doc: Json, tokens: list[str], value: Json) -> Json:
    if not tokens:
        return value
    parent = _walk(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, allow_end=True), value)
    else:
        raise _invalid_patch("add operation does not apply: parent is not a container")
    return doc


def _remove(doc: Json, tokens: list[str]) -> tuple[Json, Json]:
    if not tokens:
        raise _invalid_patch("cannot remove the whole document")
    parent = _walk(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _invalid_patch(f"remove operation does not apply: doc is missing path: /{'/'.join(tokens)}")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, last, allow_end=False))
    raise _invalid_patch("remove operation does not apply")


def json_patch(target: Json, ops: Json) -> Json:
    """RFC 6902 (add, remove, replace, move, copy, test); 422 when an operation does not apply."""
    if not isinstance(ops, list):
        raise StoreError(400, "BadRequest", "a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise StoreError(400, "BadRequest", f"invalid JSON patch operation: {op!r}")
        kind, tokens = op["op"], _pointer(op["path"])
        if kind in ("add", "replace", "test") and "value" not in op:
            raise StoreError(400, "BadRequest", f"JSON patch {kind} operation needs a value")
        if kind == "add":
            doc = _add(doc, tokens, copy.deepcopy(op["value"]))
        elif kind == "remove":
            doc, _ = _remove(doc, tokens)
        elif kind == "replace":
            doc, _ = _remove(doc, tokens) if tokens else (doc, None)
            doc = _add(doc, tokens, copy.deepcopy(op["value"]))
        elif kind in ("move", "copy"):
            src = _pointer(op.get("from", ""))
            if kind == "move":
                doc, value = _remove(doc, src)
            else:
                value = copy.deepcopy(_walk(doc, src))
            doc = _add(doc, tokens, value)
        elif kind == "test":
            if _walk(doc, tokens) != op["value"]:
                raise _invalid_patch(f"testing value {op['path']} failed")
        else:
            raise StoreError(400, "BadRequest", f"unknown JSON patch operation {kind!r}")
    return doc


# ------------------------------------------------------------------------------------- strategic merge

# merge keys by (parent field, field); "*" matches any parent
_MERGE_KEYS: dict[tuple[str, str], str] = {
    ("*", "containers"): "name",
    ("*", "initContainers"): "name",
    ("*", "ephemeralContainers"): "name",
    ("*", "volumes"): "name",
    ("*", "env"): "name",
    ("*", "imagePullSecrets"): "name",
    ("*", "volumeMounts"): "mountPath",
    ("*", "volumeDevices"): "devicePath",
    ("*", "hostAliases"): "ip",
    ("*", "conditions"): "type",
    ("*", "ownerReferences"): "uid",
    ("*", "topologySpreadConstraints"): "topologyKey",
    ("*", "resourceClaims"): "name",
    ("containers", "ports"): "containerPort",
    ("initContainers", "ports"): "containerPort",
    ("spec", "ports"): "port",
    ("*", "ports"): "name",
    ("*", "secrets"): "name",
    ("*", "containerStatuses"): "name",
}
_PRIMITIVE_SETS = {"finalizers"}  # primitive lists with merge strategy


def _merge_key(parent: str, field: str) -> str | None:
    return _MERGE_KEYS.get((parent, field)) or _MERGE_KEYS.get(("*", field))


def strategic_merge(target: Json, patch: Json, *, parent: str = "") -> Json:
    """Apply a strategic merge patch to `target` (a built-in object or part of one)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    out: dict[str, Any] = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value if isinstance(value, list) else []
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            drop = value if isinstance(value, list) else []
            if isinstance(out.get(field), list):
                out[field] = [v for v in out[field] if v not in drop]
            continue
        if value is None:
            out.pop(key, None)
            continue
        if isinstance(value, list):
            out[key] = _merge_list(out.get(key), value, parent=parent, field=key)
        elif isinstance(value, dict):
            merged = strategic_merge(out.get(key), value, parent=key)
            if merged is None:
                out.pop(key, None)
            else:
                out[key] = merged
        else:
            out[key] = copy.deepcopy(value)
    for field, order in orders.items():
        if isinstance(out.get(field), list):
            out[field] = _reorder(out[field], order, _merge_key(parent, field))
    if isinstance(retain, list):
        keep = set(retain)
        out = {k: v for k, v in out.items() if k in keep}
    return out


def _merge_list(current: Any, patch: list[Any], *, parent: str, field: str) -> list[Any]:
    cur = copy.deepcopy(current) if isinstance(current, list) else []
    if patch and isinstance(patch[0], dict) and patch[0].get("$patch") == "replace" and len(patch[0]) == 1:
        return [copy.deepcopy(p) for p in patch[1:]]
    if field in _PRIMITIVE_SETS and all(not isinstance(p, dict | list) for p in patch):
        return cur + [p for p in patch if p not in cur]
    key = _merge_key(parent, field)
    if key is None or not all(isinstance(p, dict) for p in patch):
        return [copy.deepcopy(p) for p in patch]
    for item in patch:
        ident = item.get(key)
        idx = next(
            (
                i
                for i, c in enumerate(cur)
                if isinstance(c, dict) and ident is not None and c.get(key) == ident
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if idx is not None:
                cur.pop(idx)
            continue
        if idx is None:
            merged = strategic_merge({}, item, parent=field)
            if merged is not None:
                cur.append(merged)
        else:
            merged = strategic_merge(cur[idx], item, parent=field)
            if merged is None:
                cur.pop(idx)
            else:
                cur[idx] = merged
    return cur


def _reorder(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    def ident(x: Any) -> Any:
        return x.get(key) if key and isinstance(x, dict) else x

    wanted = [ident(o) for o in order]
    ranked = [i for w in wanted for i in items if ident(i) == w]
    rest = [i for i in items if ident(i) not in wanted]
    return ranked + rest


def strip_directives(obj: Json) -> Json:
    """Remove strategic-merge directives from a document (for applying a directive-laden body as-is)."""
    if isinstance(obj, dict):
        return {
            k: strip_directives(v)
            for k, v in obj.items()
            if not (
                k.startswith("$patch") or k.startswith("$retainKeys") or k.startswith("$setElementOrder/")
            )
            and not k.startswith("$deleteFromPrimitiveList/")
        }
    if isinstance(obj, list):
        return [strip_directives(v) for v in obj if not (isinstance(v, dict) and v.get("$patch"))]
    return obj
