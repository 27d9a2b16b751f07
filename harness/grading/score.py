"""Scoring: check results (plus anti-cheat flags) to a score sheet. Pure.

An item earns `points * passed weight / total weight`, split into config and behaviour points by the
category of each check. A `required` gate zeroes an item unless every item it names earned all its points;
an anti-cheat flag zeroes the item it concerns. Points are rounded to 1e-6 so that sums add up exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from harness.grading.checks import CheckResult
from harness.grading.rubric import Item, Rubric


def _round(x: float) -> float:
    return round(x + 0.0, 6)


@dataclass(frozen=True)
class ItemScore:
    id: str
    title: str
    points: float
    earned: float
    config_points: float
    config_earned: float
    behaviour_points: float
    behaviour_earned: float
    status: str  # "pass" | "partial" | "fail" | "gated" | "flagged" | "error"
    checks: tuple[CheckResult, ...]
    reason: str = ""
    flags: tuple[str, ...] = ()

    @property
    def full(self) -> bool:
        return self.earned >= self.points - 1e-9

    def advice(self) -> str:
        """One line for the table: the reason, or the first failed check's advice."""
        if self.reason:
            return self.reason
        for c in self.checks:
            if not c.passed and c.advice:
                return c.advice
        return ""

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "points": self.points,
            "earned": self.earned,
            "config": {"points": self.config_points, "earned": self.config_earned},
            "behaviour": {"points": self.behaviour_points, "earned": self.behaviour_earned},
            "status": self.status,
            "reason": self.reason,
            "flags": list(self.flags),
            "checks": [c.to_json() for c in self.checks],
        }


@dataclass
class Sheet:
    """One contestant's graded result."""

    rubric: str
    target: str
    items: list[ItemScore]
    identity: str = "unknown"
    host: str = ""
    context: str | None = None
    server_version: str = ""
    started: str = ""
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    reachable: bool = True

    @property
    def total(self) -> float:
        return _round(sum(i.points for i in self.items))

    @property
    def earned(self) -> float:
        return _round(sum(i.earned for i in self.items))

    @property
    def config(self) -> tuple[float, float]:
        return _round(sum(i.config_earned for i in self.items)), _round(
            sum(i.config_points for i in self.items)
        )

    @property
    def behaviour(self) -> tuple[float, float]:
        return (
            _round(sum(i.behaviour_earned for i in self.items)),
            _round(sum(i.behaviour_points for i in self.items)),
        )

    def item(self, item_id: str) -> ItemScore:
        return next(i for i in self.items if i.id == item_id)

    def to_json(self) -> dict[str, object]:
        return {
            "rubric": self.rubric,
            "target": self.target,
            "identity": self.identity,
            "api_server": self.host,
            "context": self.context,
            "server_version": self.server_version,
            "started": self.started,
            "seconds": round(self.seconds, 3),
            "reachable": self.reachable,
            "errors": list(self.errors),
            "total": {"points": self.total, "earned": self.earned},
            "config": {"points": self.config[1], "earned": self.config[0]},
            "behaviour": {"points": self.behaviour[1], "earned": self.behaviour[0]},
            "items": [i.to_json() for i in self.items],
        }


def _split(item: Item, results: Sequence[CheckResult]) -> tuple[float, float, float, float]:
    total_w = sum(c.weight for c in item.checks)
    scale = item.points / total_w if total_w else 0.0
    cfg_p = sum(c.weight for c in item.checks if c.category == "config") * scale
    beh_p = sum(c.weight for c in item.checks if c.category == "behaviour") * scale
    cfg_e = sum(r.weight for r in results if r.passed and r.category == "config") * scale
    beh_e = sum(r.weight for r in results if r.passed and r.category == "behaviour") * scale
    return _round(cfg_p), _round(cfg_e), _round(beh_p), _round(beh_e)


def score(
    rubric: Rubric,
    results: Mapping[str, Sequence[CheckResult]],
    *,
    flags: Mapping[str, Sequence[str]] | None = None,
    error: str | None = None,
) -> list[ItemScore]:
    """Item scores from per-item check results; `error` (target unreachable) zeroes everything."""
    flags = flags or {}
    raw: dict[str, ItemScore] = {}
    for item in rubric.items:
        checks = tuple(results.get(item.id, ()))
        cfg_p, cfg_e, beh_p, beh_e = _split(item, checks)
        earned = _round(cfg_e + beh_e)
        status = "pass" if earned >= item.points - 1e-9 else ("partial" if earned > 0 else "fail")
        reason = ""
        if error:
            cfg_e = beh_e = earned = 0.0
            status, reason = "error", error
        elif flags.get(item.id):
            cfg_e = beh_e = earned = 0.0
            status, reason = "flagged", "anti-cheat: " + "; ".join(flags[item.id])
        raw[item.id] = ItemScore(
            item.id,
            item.title,
            item.points,
            earned,
            cfg_p,
            cfg_e,
            beh_p,
            beh_e,
            status,
            checks,
            reason,
            tuple(flags.get(item.id, ())),
        )
    # Gates, in dependency order (the rubric parser rejected cycles).
    done: dict[str, ItemScore] = {}

    def resolve(item: Item) -> ItemScore:
        if item.id in done:
            return done[item.id]
        current = raw[item.id]
        unmet = []
        for dep in item.required:
            dep_score = resolve(next(i for i in rubric.items if i.id == dep))
            if not dep_score.full:
                unmet.append(dep)
        if unmet and current.status not in ("error", "flagged"):
            current = ItemScore(
                current.id,
                current.title,
                current.points,
                0.0,
                current.config_points,
                0.0,
                current.behaviour_points,
                0.0,
                "gated",
                current.checks,
                f"requires {', '.join(unmet)} to pass in full first",
                current.flags,
            )
        done[item.id] = current
        return current

    return [resolve(item) for item in rubric.items]
