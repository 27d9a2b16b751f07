"""The lab's object store: every Kubernetes object the lab knows, with resource versions and change events.

Synchronous and single-threaded (it runs on the lab's event loop). Objects are plain dicts in the form they
were written; the store adds `uid`, `resourceVersion` (one global counter), `creationTimestamp` and
`generation`, runs admission hooks before a create or update, and tells subscribers after each commit.
Errors are `StoreError`s that carry a Kubernetes `Status`, so the API can pass them through unchanged.
"""

from __future__ import annotations

import builtins
import copy
import re
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from harness.lab.kinds import ResourceType, by_kind

Obj = dict[str, Any]
Admission = Callable[[Obj, "Obj | None"], None]
Subscriber = Callable[[str, Obj, "Obj | None"], None]

HISTORY = 4096  # events kept for watch resumption


class StoreError(Exception):
    """A refused operation, carrying the Kubernetes `Status` to answer with."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details or {}

    def status(self) -> dict[str, Any]:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        }


def _resource_name(kind: str) -> tuple[str, str, str]:
    """(group_resource for messages, group, plural) for a Kind, with a guess for unknown kinds."""
    rt = by_kind(kind)
    if rt is None:
        plural = kind.lower() + "s"
        return plural, "", plural
    return rt.group_resource, rt.group, rt.plural


def not_found(kind: str, name: str) -> StoreError:
    gr, group, plural = _resource_name(kind)
    return StoreError(
        404, "NotFound", f'{gr} "{name}" not found', {"name": name, "group": group, "kind": plural}
    )


def already_exists(kind: str, name: str) -> StoreError:
    gr, group, plural = _resource_name(kind)
    return StoreError(
        409, "AlreadyExists", f'{gr} "{name}" already exists', {"name": name, "group": group, "kind": plural}
    )


def conflict(kind: str, name: str) -> StoreError:
    gr, group, plural = _resource_name(kind)
    return StoreError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {gr} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        {"name": name, "group": group, "kind": plural},
    )


def invalid(kind: str, name: str, causes: list[tuple[str, str]]) -> StoreError:
    """422 Invalid; `causes` are (field, message) pairs such as ("spec.foo", 'Invalid value: "bar": demo')."""
    rt = by_kind(kind)
    gk = rt.group_kind if rt else kind
    group = rt.group if rt else ""
    text = ", ".join(f"{f}: {m}" if f else m for f, m in causes)
    return StoreError(
        422,
        "Invalid",
        f'{gk} "{name}" is invalid: {text}',
        {
            "name": name,
            "group": group,
            "kind": kind,
            "causes": [{"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in causes],
        },
    )


def bad_request(message: str) -> StoreError:
    return StoreError(400, "BadRequest", message)


# ---------------------------------------------------------------------------------------------- selectors

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_KEY_RE = re.compile(rf"^{_KEY}$")
_VALUE_RE = re.compile(rf"^{_VALUE}$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: frozenset[str] = field(default_factory=frozenset)

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        return not present or value not in self.values  # "!=" and "notin"


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


_SET_RE = re.compile(r"^\s*(\S+)\s+(in|notin)\s*\((.*)\)\s*$")
_EQ_RE = re.compile(r"^\s*([^=!\s]+)\s*(==|!=|=)\s*(\S*)\s*$")


def parse_selector(text: str | None) -> list[Requirement]:
    """Parse a label selector (`app=reviews,version!=v1`, `app in (a,b)`, `x`, `!x`); 400 when malformed."""
    if text is None or not text.strip():
        return []
    reqs: list[Requirement] = []
    for raw in _split_top(text):
        part = raw.strip()
        if not part:
            raise bad_request(f'unable to parse requirement: found "", expected: identifier in "{text}"')
        if m := _SET_RE.match(part):
            key, op, vals = m.group(1), m.group(2), m.group(3)
            values = frozenset(v.strip() for v in vals.split(",") if v.strip())
            req = Requirement(key, op, values)
        elif m := _EQ_RE.match(part):
            key, op, val = m.group(1), m.group(2), m.group(3)
            req = Requirement(key, "!=" if op == "!=" else "=", frozenset({val}))
        elif part.startswith("!"):
            req = Requirement(part[1:].strip(), "!")
        else:
            req = Requirement(part, "exists")
        if not _KEY_RE.match(req.key) or not all(_VALUE_RE.match(v) for v in req.values):
            raise bad_request(f'unable to parse requirement: invalid label selector "{text}"')
        reqs.append(req)
    return reqs


def matches_selector(labels: dict[str, str] | None, reqs: list[Requirement]) -> bool:
    labels = labels or {}
    return all(r.matches(labels) for r in reqs)


# ---------------------------------------------------------------------------------------------- store


def _now() -> datetime:
    return datetime.now(UTC)


def rfc3339(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _key(obj: Obj) -> tuple[str, str, str]:
    md = obj.get("metadata") or {}
    return obj.get("kind", ""), md.get("namespace") or "", md.get("name", "")


def _body(obj: Obj) -> Obj:
    """What a generation bump looks at: everything but metadata, status and type info."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


class ObjectStore:
    """All objects, keyed by (kind, namespace, name); see the module docstring."""

    def __init__(self, *, clock: Callable[[], datetime] = _now) -> None:
        self._clock = clock
        self._objects: dict[tuple[str, str, str], Obj] = {}
        self._rv = 0
        self._history: deque[tuple[int, str, Obj]] = deque(maxlen=HISTORY)
        self._subscribers: list[Subscriber] = []
        self.admission: list[Admission] = []

    # ---- reads

    @property
    def resource_version(self) -> int:
        return self._rv

    def now(self) -> datetime:
        return self._clock()

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        obj = self._objects.get((kind, namespace or "", name))
        return copy.deepcopy(obj) if obj is not None else None

    def list(self, kind: str, namespace: str | None = None, selector: str | None = None) -> list[Obj]:
        reqs = parse_selector(selector)
        out = [
            copy.deepcopy(o)
            for (k, ns, _), o in self._objects.items()
            if k == kind
            and (namespace is None or ns == namespace)
            and matches_selector((o.get("metadata") or {}).get("labels"), reqs)
        ]
        out.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return out

    def snapshot(self) -> builtins.list[Obj]:
        return [copy.deepcopy(o) for o in self._objects.values()]

    def events_since(self, resource_version: int) -> builtins.list[tuple[str, Obj]]:
        """Committed changes newer than `resource_version`; 410 Expired once history is too short."""
        if resource_version >= self._rv:
            return []
        if self._history and self._history[0][0] > resource_version + 1 and resource_version < self._rv:
            raise StoreError(
                410, "Expired", f"too old resource version: {resource_version} ({self._history[0][0] - 1})"
            )
        return [(t, copy.deepcopy(o)) for rv, t, o in self._history if rv > resource_version]

    # ---- writes

    def _validate(self, obj: Obj) -> tuple[ResourceType | None, str, str]:
        if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict):
            raise bad_request("object has no metadata")
        kind = obj.get("kind")
        if not isinstance(kind, str) or not kind:
            raise bad_request("Object 'Kind' is missing")
        rt = by_kind(kind)
        md = obj["metadata"]
        name = md.get("name") or ""
        ns = md.get("namespace") or ""
        if rt is not None and rt.namespaced and not ns:
            raise bad_request(f"{kind} {name!r}: a namespace is required")
        if rt is not None and not rt.namespaced and ns:
            md.pop("namespace", None)
            ns = ""
        return rt, ns, name

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def _commit(self, event: str, obj: Obj, old: Obj | None) -> None:
        rv = int(obj["metadata"]["resourceVersion"])
        self._history.append((rv, event, copy.deepcopy(obj)))
        for fn in list(self._subscribers):
            fn(event, copy.deepcopy(obj), copy.deepcopy(old) if old is not None else None)

    def _admit(self, new: Obj, old: Obj | None) -> None:
        for hook in list(self.admission):
            hook(new, old)

    def create(self, obj: Obj, *, dry_run: bool = False) -> Obj:
        obj = copy.deepcopy(obj)
        _, ns, name = self._validate(obj)
        md = obj["metadata"]
        if not name:
            prefix = md.get("generateName")
            if not prefix:
                raise invalid(
                    obj["kind"], "", [("metadata.name", "Required value: name or generateName is required")]
                )
            for _ in range(100):
                name = prefix + uuid.uuid4().hex[:5]
                if (obj["kind"], ns, name) not in self._objects:
                    break
            md["name"] = name
        if not _NAME_RE.match(name) or len(name) > 253:
            raise invalid(
                obj["kind"],
                name,
                [
                    (
                        "metadata.name",
                        f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower case '
                        "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
                        "character",
                    )
                ],
            )
        if (obj["kind"], ns, name) in self._objects:
            raise already_exists(obj["kind"], name)
        md.pop("resourceVersion", None)
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = rfc3339(self._clock())
        md["generation"] = 1
        self._admit(obj, None)
        self._validate(obj)
        if _key(obj) != (obj["kind"], ns, name):
            raise bad_request("admission must not change an object's kind, namespace or name")
        if dry_run:
            md["resourceVersion"] = str(self._rv)
            return obj
        md["resourceVersion"] = str(self._next_rv())
        self._objects[(obj["kind"], ns, name)] = obj
        self._commit("ADDED", obj, None)
        return copy.deepcopy(obj)

    def update(self, obj: Obj, *, check_version: bool = True, dry_run: bool = False) -> Obj:
        """Replace an object; without a `status` key the stored status is kept (see set_status)."""
        obj = copy.deepcopy(obj)
        _, ns, name = self._validate(obj)
        key = (obj["kind"], ns, name)
        old = self._objects.get(key)
        if old is None:
            raise not_found(obj["kind"], name)
        md = obj["metadata"]
        sent_rv = md.get("resourceVersion")
        if check_version and sent_rv not in (None, ""):
            if not str(sent_rv).isdigit():
                raise bad_request(f"invalid resourceVersion {sent_rv!r}")
            if str(sent_rv) != old["metadata"]["resourceVersion"]:
                raise conflict(obj["kind"], name)
        old_md = old["metadata"]
        md["uid"] = old_md["uid"]
        md["creationTimestamp"] = old_md["creationTimestamp"]
        md["generation"] = old_md.get("generation", 1)
        if "status" not in obj and "status" in old:
            obj["status"] = copy.deepcopy(old["status"])
        self._admit(obj, copy.deepcopy(old))
        if _key(obj) != key:
            raise bad_request("admission must not change an object's kind, namespace or name")
        if _body(obj) != _body(old):
            md["generation"] = old_md.get("generation", 1) + 1
        if dry_run:
            md["resourceVersion"] = old_md["resourceVersion"]
            return obj
        md["resourceVersion"] = str(self._next_rv())
        self._objects[key] = obj
        self._commit("MODIFIED", obj, old)
        return copy.deepcopy(obj)

    def set_status(self, kind: str, namespace: str | None, name: str, status: dict[str, Any]) -> Obj:
        key = (kind, namespace or "", name)
        old = self._objects.get(key)
        if old is None:
            raise not_found(kind, name)
        obj = copy.deepcopy(old)
        obj["status"] = copy.deepcopy(status)
        obj["metadata"]["resourceVersion"] = str(self._next_rv())
        self._objects[key] = obj
        self._commit("MODIFIED", obj, old)
        return copy.deepcopy(obj)

    def delete(self, kind: str, namespace: str | None, name: str, *, dry_run: bool = False) -> Obj:
        key = (kind, namespace or "", name)
        old = self._objects.get(key)
        if old is None:
            raise not_found(kind, name)
        if dry_run:
            return copy.deepcopy(old)
        del self._objects[key]
        gone = copy.deepcopy(old)
        gone["metadata"]["resourceVersion"] = str(self._next_rv())
        self._commit("DELETED", gone, old)
        return copy.deepcopy(gone)

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        self._subscribers.append(fn)

        def unsubscribe() -> None:
            if fn in self._subscribers:
                self._subscribers.remove(fn)

        return unsubscribe

    def ensure_namespace(self, name: str, labels: dict[str, str] | None = None) -> Obj:
        """Create the Namespace if missing (status.phase Active); return it."""
        existing = self.get("Namespace", None, name)
        if existing is not None:
            return existing
        md: Obj = {"name": name, "labels": {"kubernetes.io/metadata.name": name, **(labels or {})}}
        return self.create(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": md,
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }
        )
