"""Helpers for the grading tests: the answer key as objects, and a lab with (a variant of) it applied."""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from harness.journal import Journal
from harness.lab.process import LabProcess
from harness.paths import MANIFESTS_DIR
from harness.scenario import ApplyItem
from harness.target import Target, lab_target, load_items

ROOT = MANIFESTS_DIR.parent
RUBRIC = ROOT / "rubrics" / "servicemesh.yaml"
KEY_DIR = ROOT / "rubrics" / "answer-key"


def answer_key() -> list[dict]:
    entries = yaml.safe_load((KEY_DIR / "index.yaml").read_text())
    items = [ApplyItem((KEY_DIR / e["file"]).resolve(), bool(e.get("inject"))) for e in entries]
    return load_items(items)


def find(objects: list[dict], kind: str, name: str) -> dict:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def apply(target: Target, objects: list[dict], tmp: Path) -> None:
    journal = Journal.open_new(tmp / f"j{len(list(tmp.glob('j*.json')))}.json", "test")
    target.apply(objects, journal)
    target.wait_rollout()
    target.wait_synced()


@contextmanager
def lab_with(mutate: Callable[[list[dict]], list[dict]] | None = None) -> Iterator[tuple[object, Target]]:
    """A fresh lab with the answer key (optionally mutated) applied; yields (LabInfo, Target)."""
    objects = answer_key()
    if mutate is not None:
        objects = mutate(copy.deepcopy(objects))
    with LabProcess(seed=1) as info, tempfile.TemporaryDirectory() as tmp:
        target = lab_target(info)
        try:
            apply(target, objects, Path(tmp))
            yield info, target
        finally:
            target.kube.close()
