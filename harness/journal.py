"""The change journal: the prior state of every object the harness touches, on disk before the change.

Each entry is written and fsynced before the object is changed, so a run killed at any point can be put back
by `bookinfo-harness restore`. Restoring deletes what we created, puts back the previous spec of what we
changed, never touches anything else, and reports (does not overwrite) objects someone else changed since.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import InputError, JournalError, TargetError

if TYPE_CHECKING:
    from harness.kube import KubeClient

SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink")


def _clean(obj: dict) -> dict:
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in SERVER_FIELDS}
    out["metadata"] = meta
    return out


@dataclass
class Entry:
    kind: str
    namespace: str | None
    name: str
    prior: dict | None  # None: the object did not exist before we applied it
    applied_version: str | None = None  # resourceVersion after our change (conflict detection)
    applied_generation: int | None = (
        None  # metadata.generation after our change: spec edits bump it, status not
    )

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "prior": self.prior,
            "applied_version": self.applied_version,
            "applied_generation": self.applied_generation,
        }

    def changed_since_applied(self, live: dict) -> bool:
        """Whether someone else changed it after our apply (controllers' status writes do not count)."""
        meta = live.get("metadata", {})
        if self.applied_generation is not None and meta.get("generation") is not None:
            return int(meta["generation"]) != self.applied_generation
        return self.applied_version is not None and meta.get("resourceVersion") != self.applied_version


@dataclass
class Journal:
    path: Path
    target: str
    entries: list[Entry] = field(default_factory=list)

    @classmethod
    def open_new(cls, path: Path, target: str) -> Journal:
        if path.exists():
            raise JournalError(
                f"an unrestored journal from an earlier run exists at {path}; "
                f"run `bookinfo-harness restore --journal {path}` first"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        journal = cls(path, target)
        journal._write()
        return journal

    @classmethod
    def load(cls, path: Path) -> Journal:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise JournalError(f"no journal at {path}") from None
        except ValueError as exc:
            raise JournalError(f"journal {path} is unreadable: {exc}") from None
        entries = [Entry(**e) for e in data.get("entries", [])]
        return cls(path, data.get("target", ""), entries)

    def find(self, kind: str, namespace: str | None, name: str) -> Entry | None:
        for entry in self.entries:
            if (entry.kind, entry.namespace, entry.name) == (kind, namespace, name):
                return entry
        return None

    def record(self, kind: str, namespace: str | None, name: str, prior: dict | None) -> Entry:
        """Remember an object's state before its first change in this run (later changes keep the first)."""
        entry = self.find(kind, namespace, name)
        if entry is None:
            entry = Entry(kind, namespace, name, _clean(prior) if prior is not None else None)
            self.entries.append(entry)
            self._write()
        return entry

    def mark_applied(self, entry: Entry, live: dict) -> None:
        meta = live.get("metadata", {})
        entry.applied_version = meta.get("resourceVersion")
        entry.applied_generation = int(meta["generation"]) if meta.get("generation") is not None else None
        self._write()

    def _write(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w") as handle:
            json.dump(
                {"target": self.target, "entries": [e.to_json() for e in self.entries]}, handle, indent=1
            )
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def restore(journal: Journal, kube: KubeClient) -> list[str]:
    """Put every journalled object back; return one line per conflict (objects changed by someone else).

    An object that cannot be put back (the API server went away, or refused the old spec) is kept in the
    journal, which then holds only those objects, and a TargetError says how to finish with
    `bookinfo-harness restore`; everything else is still put back.
    """
    conflicts: list[str] = []
    restored: set[int] = set()
    first_error: str | None = None
    for index in reversed(range(len(journal.entries))):
        try:
            conflict = _restore_one(journal.entries[index], kube)
        except (TargetError, InputError) as exc:
            first_error = first_error or str(exc)
            if isinstance(exc, TargetError) and "cannot reach" in str(exc):
                break  # the API server is gone: the remaining entries would fail the same way
            continue
        restored.add(index)
        if conflict:
            conflicts.append(conflict)
    if first_error is not None:
        journal.entries = [e for i, e in enumerate(journal.entries) if i not in restored]
        journal._write()
        raise TargetError(
            f"could not put back {len(journal.entries)} object(s): {first_error}; the journal "
            f"{journal.path} keeps them: run `bookinfo-harness restore --journal {journal.path}` "
            "once the API server is reachable"
        )
    return conflicts


def _restore_one(entry: Entry, kube: KubeClient) -> str | None:
    live = kube.get(entry.kind, entry.namespace, entry.name)
    where = f"{entry.kind} {entry.namespace + '/' if entry.namespace else ''}{entry.name}"
    if live is not None and entry.changed_since_applied(live):
        return f"{where} was changed by someone else since the harness applied it; left as is"
    if entry.prior is None:
        if live is not None:
            kube.delete(entry.kind, entry.namespace, entry.name)
        return None
    prior = json.loads(json.dumps(entry.prior))
    if live is None:
        kube.create(prior)
    else:
        prior["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        kube.replace(prior)
    return None


__all__ = ["Entry", "Journal", "restore"]
