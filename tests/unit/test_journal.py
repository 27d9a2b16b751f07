"""The change journal: written before each change, restored exactly, conflicts reported not overwritten."""

from __future__ import annotations

import copy

import pytest

from harness.errors import JournalError
from harness.journal import Journal, restore


class FakeKube:
    """An in-memory API with resourceVersions, enough to exercise restore."""

    def __init__(self, objects: dict) -> None:
        self.objects = copy.deepcopy(objects)
        self.rv = 100

    def _bump(self, obj: dict) -> dict:
        self.rv += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
        return obj

    def get(self, kind, namespace, name):  # type: ignore[no-untyped-def]
        obj = self.objects.get((kind, namespace, name))
        return copy.deepcopy(obj) if obj else None

    def create(self, obj):  # type: ignore[no-untyped-def]
        key = (obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])
        self.objects[key] = self._bump(copy.deepcopy(obj))

    def replace(self, obj):  # type: ignore[no-untyped-def]
        self.create(obj)

    def delete(self, kind, namespace, name):  # type: ignore[no-untyped-def]
        return self.objects.pop((kind, namespace, name), None) is not None


def vs(name: str, subset: str, rv: str = "1") -> dict:
    return {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": "default", "resourceVersion": rv, "uid": "u"},
        "spec": {"hosts": [name], "http": [{"route": [{"destination": {"host": name, "subset": subset}}]}]},
    }


def test_restore_deletes_what_was_created_and_puts_back_what_was_changed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    kube = FakeKube({("VirtualService", "default", "reviews"): vs("reviews", "v1")})
    journal = Journal.open_new(tmp_path / "j.json", "t")
    # change reviews, create ratings
    entry = journal.record(
        "VirtualService", "default", "reviews", kube.get("VirtualService", "default", "reviews")
    )
    kube.replace(vs("reviews", "v3"))
    journal.mark_applied(entry, kube.get("VirtualService", "default", "reviews"))
    entry = journal.record("VirtualService", "default", "ratings", None)
    kube.create(vs("ratings", "v1"))
    journal.mark_applied(entry, kube.get("VirtualService", "default", "ratings"))
    reloaded = Journal.load(tmp_path / "j.json")  # what a later `restore` reads after a SIGKILL
    assert restore(reloaded, kube) == []
    assert kube.get("VirtualService", "default", "ratings") is None
    assert kube.get("VirtualService", "default", "reviews")["spec"] == vs("reviews", "v1")["spec"]


def test_a_change_made_by_someone_else_is_reported_not_overwritten(tmp_path) -> None:  # type: ignore[no-untyped-def]
    kube = FakeKube({("VirtualService", "default", "reviews"): vs("reviews", "v1")})
    journal = Journal.open_new(tmp_path / "j.json", "t")
    entry = journal.record(
        "VirtualService", "default", "reviews", kube.get("VirtualService", "default", "reviews")
    )
    kube.replace(vs("reviews", "v3"))
    journal.mark_applied(entry, kube.get("VirtualService", "default", "reviews"))
    kube.replace(vs("reviews", "v2"))  # someone else
    conflicts = restore(journal, kube)
    assert len(conflicts) == 1 and "changed by someone else" in conflicts[0]
    assert (
        kube.get("VirtualService", "default", "reviews")["spec"]["http"][0]["route"][0]["destination"][
            "subset"
        ]
        == "v2"
    )


def test_a_second_run_refuses_to_start_while_a_journal_is_unrestored(tmp_path) -> None:  # type: ignore[no-untyped-def]
    Journal.open_new(tmp_path / "j.json", "t")
    with pytest.raises(JournalError, match="bookinfo-harness restore --journal"):
        Journal.open_new(tmp_path / "j.json", "t")
