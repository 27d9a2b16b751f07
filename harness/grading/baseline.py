"""Anti-cheat: a baseline of object identities at exam start, and what changed since. Pure.

`make_baseline` records, for every object read, its UID, resourceVersion and creationTimestamp plus the
time the baseline was taken. `flags_since` then reports, per rubric item:

- an object the item says the contestant must *modify* (`modifies:`) whose UID changed: it was deleted and
  recreated instead of edited;
- an object the item says the contestant must *create* (`creates:`) that already existed at exam start
  (same UID as in the baseline, or a creationTimestamp before the baseline was taken).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import InputError
from harness.grading.rubric import Rubric

FORMAT = "bookinfo-harness/grade-baseline/v1"


def _key(kind: str, namespace: str, name: str) -> str:
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def _obj_key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return _key(str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))


def make_baseline(objects: Iterable[Mapping[str, Any]], *, target: str, taken_at: datetime) -> dict[str, Any]:
    out: dict[str, dict[str, Any]] = {}
    for obj in objects:
        meta = obj.get("metadata") or {}
        out[_obj_key(obj)] = {
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
            "creationTimestamp": meta.get("creationTimestamp"),
        }
    return {
        "format": FORMAT,
        "target": target,
        "taken_at": taken_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "objects": dict(sorted(out.items())),
    }


def _time(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def flags_since(
    rubric: Rubric, baseline: Mapping[str, Any], objects: Iterable[Mapping[str, Any]]
) -> dict[str, list[str]]:
    """Item id -> anti-cheat findings, comparing the current objects with the exam-start baseline."""
    now = {_obj_key(o): (o.get("metadata") or {}) for o in objects}
    then: Mapping[str, Mapping[str, Any]] = baseline.get("objects") or {}
    taken_at = _time(baseline.get("taken_at"))
    flags: dict[str, list[str]] = {}
    for item in rubric.items:
        found: list[str] = []
        for kind, ns, name in item.modifies:
            key = _key(kind, ns, name)
            before, after = then.get(key), now.get(key)
            if before and after and before.get("uid") != after.get("uid"):
                found.append(
                    f"{key} was deleted and recreated (uid {before.get('uid')} -> {after.get('uid')}, "
                    f"created {after.get('creationTimestamp')}); the task says to modify it"
                )
        for kind, ns, name in item.creates:
            key = _key(kind, ns, name)
            before, after = then.get(key), now.get(key)
            if not after:
                continue
            created = _time(after.get("creationTimestamp"))
            if before and before.get("uid") == after.get("uid"):
                found.append(
                    f"{key} existed before the exam started (uid {after.get('uid')} in the baseline)"
                )
            elif created and taken_at and created < taken_at:
                found.append(
                    f"{key} was created at {after.get('creationTimestamp')}, before the exam started "
                    f"({baseline.get('taken_at')})"
                )
        if found:
            flags[item.id] = found
    return flags


def write_baseline(path: Path, baseline: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(baseline, indent=1) + "\n")


def read_baseline(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise InputError(f"{path}: cannot read baseline: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise InputError(f"{path}: baseline is not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{path}: not a grade baseline (format {FORMAT})")
    return data
