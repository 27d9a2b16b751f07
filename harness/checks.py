"""Pure checks of observed cluster state against a scenario's expectations (pods, objects)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.manifests import matches_selector
from harness.scenario import ObjectCheck, PodCheck


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def ready_column(pod: Mapping[str, object]) -> str:
    """kubectl's READY column: ready containers / containers (native sidecars count as containers)."""
    status = pod.get("status") or {}
    spec = pod.get("spec") or {}
    assert isinstance(status, Mapping) and isinstance(spec, Mapping)
    statuses = list(status.get("containerStatuses") or [])
    sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    total = len(spec.get("containers") or []) + len(sidecars)
    ready = sum(1 for c in statuses if c.get("ready"))
    ready += sum(
        1
        for c in status.get("initContainerStatuses") or []
        if c.get("ready") and any(s.get("name") == c.get("name") for s in sidecars)
    )
    return f"{ready}/{total}"


def check_pods(pods: Sequence[Mapping[str, Any]], check: PodCheck) -> CheckResult:
    selected = [
        p for p in pods if matches_selector((p.get("metadata") or {}).get("labels") or {}, check.selector)
    ]
    name = f"pods {check.selector or '(all)'}"
    problems = []
    if check.count is not None and len(selected) != check.count:
        problems.append(f"{len(selected)} pods, expected {check.count}")
    if check.ready:
        wrong = [
            f"{p['metadata']['name']} {ready_column(p)}" for p in selected if ready_column(p) != check.ready
        ]
        if wrong:
            problems.append(f"not {check.ready}: {', '.join(sorted(wrong))}")
        if not selected:
            problems.append("no pods selected")
    if problems:
        return CheckResult(name, False, "; ".join(problems))
    shown = ", ".join(sorted(f"{p['metadata']['name']} {ready_column(p)}" for p in selected))
    return CheckResult(name, True, shown or "no pods")


def field_value(obj: Mapping[str, object], path: str) -> object:
    current: object = obj
    for part in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def check_object(obj: Mapping[str, object] | None, check: ObjectCheck) -> CheckResult:
    name = f"{check.kind}/{check.name}"
    if obj is None:
        return CheckResult(name, False, "not found")
    wrong = []
    for path, expected in check.fields.items():
        found = field_value(obj, path)
        if found != expected:
            wrong.append(f"{path} is {found!r}, expected {expected!r}")
    if wrong:
        return CheckResult(name, False, "; ".join(wrong))
    return CheckResult(
        name, True, "present" + (f", {len(check.fields)} fields as expected" if check.fields else "")
    )
