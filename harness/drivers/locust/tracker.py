"""Per-identity page counts, sequential verdicts, shares over time and the run document of a Locust run.

Pure: no I/O, no Locust, no clock of its own (the caller passes ``clock``). One :class:`SplitTracker` lives in
the Locust process that decides (the local runner, or the master); a worker only buffers what its users saw
(:class:`OutcomeBuffer`) and ships it to the master in order, where it is fed to the tracker.

Observations reach the sequential tests in the order they arrive. Batches from workers interleave in arrival
order, which does not depend on the values observed, so the tests' error guarantees (Ville's inequality, see
:mod:`harness.verdict`) still hold.

Convergence gate (like the runner's): after a (re)start, pages only count towards the verdict once ``gate``
pages in a row are ones the expected split allows (or ``gate_timeout_s`` passed); gated pages still show in
the live shares. A decided verdict stays decided until :meth:`SplitTracker.reset` ("Reset stats" in the UI).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.drivers.locust.expectations import Plan, ProbeSpec
from harness.drivers.locust.outcomes import ANONYMOUS
from harness.probetests import ProbeTests, all_decided, build_probe_tests, observe_page
from harness.stats import mixture_confidence_sequence
from harness.verdict import Status, Verdict

SEP = "\t"
VERSION_ORDER = ("v1", "v2", "v3", "v2-or-v3", "unknown")
GATE_TIMEOUT_S = 30.0
HISTORY_LIMIT = 3600  # points per identity (one per tick)
CHART_WINDOW_S = 5.0  # shares over time are computed over this trailing window


def encode(identity: str, version: str, state: str) -> str:
    """One observation as a compact string for worker -> master reports."""
    return f"{identity}{SEP}{version}{SEP}{state}"


def decode(item: str) -> tuple[str, str, str]:
    identity, version, state = item.split(SEP)
    return identity, version, state


def _version_key(version: str) -> tuple[int, str]:
    return (VERSION_ORDER.index(version) if version in VERSION_ORDER else len(VERSION_ORDER), version)


def _combine(statuses: Iterable[Status]) -> Status:
    """The runner's rule: any FAIL fails, else any INCONCLUSIVE, else PASS."""
    found = set(statuses)
    if Status.FAIL in found:
        return Status.FAIL
    if Status.INCONCLUSIVE in found or not found:
        return Status.INCONCLUSIVE
    return Status.PASS


class OutcomeBuffer:
    """A worker's side: observations since the last report, in order, plus lifetime counts."""

    def __init__(self) -> None:
        self._pending: list[str] = []
        self.counts: dict[str, Counter[str]] = {}  # identity -> version -> count (never reset)
        self.outcomes: dict[str, Counter[str]] = {}  # identity -> "version state" -> count

    def add(self, identity: str, version: str, state: str) -> None:
        self._pending.append(encode(identity, version, state))
        self.counts.setdefault(identity, Counter())[version] += 1
        self.outcomes.setdefault(identity, Counter())[f"{version} {state}"] += 1

    def drain(self) -> list[str]:
        pending, self._pending = self._pending, []
        return pending

    def counts_json(self) -> dict[str, object]:
        return counts_document(self.counts, self.outcomes)


def counts_document(
    counts: Mapping[str, Counter[str]], outcomes: Mapping[str, Counter[str]]
) -> dict[str, object]:
    return {
        "versions": {who: dict(sorted(c.items())) for who, c in sorted(counts.items())},
        "outcomes": {who: dict(sorted(c.items())) for who, c in sorted(outcomes.items())},
        "total": sum(sum(c.values()) for c in counts.values()),
    }


@dataclass
class _Identity:
    name: str
    spec: ProbeSpec | None
    tests: ProbeTests
    gate: int
    versions: Counter[str] = field(default_factory=Counter)  # live window (since start or reset)
    states: Counter[str] = field(default_factory=Counter)
    streak: int = 0
    gate_open: bool = False
    gated: int = 0
    first_seen: float | None = None
    decided_at: float | None = None
    history: list[tuple[float, dict[str, int]]] = field(default_factory=list)

    @property
    def n(self) -> int:
        return sum(self.versions.values())

    def allowed(self, version: str, state: str) -> bool:
        if self.spec is None:
            return True
        versions = {v for v, s in (self.spec.reviews or {}).items() if s > 0}
        states = {v for v, s in (self.spec.pages or {}).items() if s > 0}
        return (not versions or version in versions) and (not states or state in states)

    def decided(self) -> bool:
        return all_decided(self.tests)


class SplitTracker:
    """Counts and verdicts per identity for one Locust run (see the module docstring)."""

    def __init__(
        self,
        plan: Plan,
        *,
        clock: Callable[[], float] = time.monotonic,
        gate_timeout_s: float = GATE_TIMEOUT_S,
    ) -> None:
        self.plan = plan
        self.clock = clock
        self.gate_timeout_s = gate_timeout_s
        self.started = clock()
        self.lifetime: dict[str, Counter[str]] = {}
        self.lifetime_outcomes: dict[str, Counter[str]] = {}
        self.resets = 0
        self._identities: dict[str, _Identity] = {}
        self._fresh()

    # -- state ---------------------------------------------------------------------------------------------

    def _new_identity(self, name: str) -> _Identity:
        spec = self.plan.probe_for(name)
        tests: ProbeTests = {}
        if spec is not None:
            tests = build_probe_tests(
                reviews=spec.reviews,
                pages=spec.pages,
                tolerance=self.plan.tolerance,
                alpha=self.plan.alpha,
                beta=self.plan.beta,
                max_requests=spec.max_requests,
                leak_tolerance=self.plan.leak_tolerance,
            )
        return _Identity(name, spec, tests, self.plan.gate, gate_open=self.plan.gate == 0)

    def _fresh(self) -> None:
        self.started = self.clock()
        self._identities = {}
        for spec in self.plan.probes:
            self._identities[spec.identity] = self._new_identity(spec.identity)

    def reset(self) -> None:
        """Start over: new sequential tests, empty live counts and history (lifetime counts are kept)."""
        self.resets += 1
        self._fresh()

    def identity(self, name: str) -> _Identity:
        found = self._identities.get(name)
        if found is None:
            found = self._identities[name] = self._new_identity(name)
        return found

    # -- feeding -------------------------------------------------------------------------------------------

    def observe(self, identity: str, version: str, state: str) -> None:
        now = self.clock()
        self.lifetime.setdefault(identity, Counter())[version] += 1
        self.lifetime_outcomes.setdefault(identity, Counter())[f"{version} {state}"] += 1
        who = self.identity(identity)
        who.versions[version] += 1
        who.states[state] += 1
        if who.first_seen is None:
            who.first_seen = now
        if not who.tests:
            return
        if not who.gate_open:
            who.streak = who.streak + 1 if who.allowed(version, state) else 0
            who.gated += 1
            if who.streak >= who.gate or now - who.first_seen >= self.gate_timeout_s:
                who.gate_open = True
            return
        observe_page(who.tests, version, state)
        if who.decided_at is None and who.decided():
            who.decided_at = now

    def observe_encoded(self, items: Iterable[str]) -> int:
        count = 0
        for item in items:
            self.observe(*decode(item))
            count += 1
        return count

    def all_decided(self) -> bool:
        """True when there is something to decide and every probe has decided."""
        with_tests = [i for i in self._identities.values() if i.tests]
        return bool(with_tests) and all(i.decided() for i in with_tests)

    def tick(self) -> None:
        """Record one history point per identity (call about once a second)."""
        now = self.clock() - self.started
        for who in self._identities.values():
            if who.history and who.history[-1][1] == dict(who.versions):
                continue  # nothing new: the chart skips idle seconds
            who.history.append((now, dict(who.versions)))
            del who.history[:-HISTORY_LIMIT]

    # -- reading -------------------------------------------------------------------------------------------

    def _ordered(self) -> list[_Identity]:
        return sorted(self._identities.values(), key=lambda i: (i.name != ANONYMOUS, i.name))

    def _rows(self, who: _Identity) -> list[dict[str, object]]:
        expected = dict(who.spec.reviews or {}) if who.spec else {}
        names = sorted(set(who.versions) | set(expected), key=_version_key)
        n = who.n
        per = self.plan.alpha / max(1, len(names))
        rows = []
        for version in names:
            count = who.versions.get(version, 0)
            low, high = mixture_confidence_sequence(count, n, per) if n else (0.0, 1.0)
            rows.append(
                {
                    "version": version,
                    "count": count,
                    "share": count / n if n else 0.0,
                    "low": low,
                    "high": high,
                    "expected": expected.get(version) if who.spec else None,
                }
            )
        return rows

    def _verdict(self, who: _Identity) -> dict[str, object] | None:
        if not who.tests:
            return None
        verdicts = {key: test.verdict() for key, test in who.tests.items()}
        decided = who.decided()
        status = _combine(v.status for v in verdicts.values()) if decided else None
        main = verdicts.get("reviews") or next(iter(verdicts.values()))
        if not who.gate_open:
            label = f"gating ({who.streak}/{who.gate} allowed pages in a row)"
        elif status is None:
            label = "undecided"
        else:
            label = status.value
        return {
            "status": status.value if status else None,
            "label": label,
            "n": main.n,
            "reason": main.reason,
            "gated": who.gated,
            "tests": {key: v.to_json() for key, v in verdicts.items()},
        }

    def snapshot(self) -> dict[str, object]:
        """The JSON the web UI extension serves at /bookinfo/split.json."""
        identities = []
        for who in self._ordered():
            identities.append(
                {
                    "identity": who.name,
                    "probe": who.spec.name if who.spec else None,
                    "n": who.n,
                    "versions": self._rows(who),
                    "states": dict(sorted(who.states.items())),
                    "verdict": self._verdict(who),
                    "history": self.history(who.name),
                }
            )
        return {
            "scenario": self.plan.scenario,
            "elapsed": round(self.clock() - self.started, 3),
            "settings": {
                "tolerance": self.plan.tolerance,
                "alpha": self.plan.alpha,
                "beta": self.plan.beta,
                "gate": self.plan.gate,
                "jason_share": self.plan.jason_share,
                "login_user": self.plan.login_user,
            },
            "decided": self.all_decided(),
            "resets": self.resets,
            "identities": identities,
        }

    def history(self, identity: str, window_s: float = CHART_WINDOW_S) -> list[dict[str, object]]:
        """Shares over time: for each history point, the shares among pages of the trailing window."""
        who = self._identities.get(identity)
        if who is None:
            return []
        points = []
        start = 0
        for t, counts in who.history:
            while start < len(who.history) and who.history[start][0] < t - window_s:
                start += 1
            base = who.history[start - 1][1] if start > 0 else {}
            delta = {k: v - base.get(k, 0) for k, v in counts.items()}
            total = sum(delta.values())
            if total > 0:
                points.append(
                    {
                        "t": round(t, 3),
                        "n": total,
                        "shares": {k: round(v / total, 4) for k, v in sorted(delta.items()) if v},
                    }
                )
        return points

    def table_rows(self) -> list[dict[str, object]]:
        """Rows for Locust's extended table (text cells; single-word keys survive the UI's camelCasing)."""
        rows: list[dict[str, object]] = []
        for who in self._ordered():
            verdict = self._verdict(who)
            label = verdict["label"] if verdict else "no expectation"
            for row in self._rows(who):
                exp = row["expected"]
                rows.append(
                    {
                        "who": who.name,
                        "version": row["version"],
                        "count": row["count"],
                        "share": f"{row['share']:.3f}",
                        "interval": f"[{row['low']:.3f}, {row['high']:.3f}]",
                        "expected": "-" if exp is None else f"{exp:.3f}",
                        "verdict": label,
                    }
                )
            if verdict is not None:
                rows.append(
                    {
                        "who": who.name,
                        "version": "verdict",
                        "count": verdict["n"],
                        "share": "",
                        "interval": "",
                        "expected": "",
                        "verdict": f"{label}: {verdict['reason']}",
                    }
                )
        return rows

    def history_csv(self) -> str:
        lines = ["seconds,identity,version,cumulative_count"]
        for who in self._ordered():
            for t, counts in who.history:
                for version in sorted(counts, key=_version_key):
                    lines.append(f"{t:.3f},{who.name},{version},{counts[version]}")
        return "\n".join(lines) + "\n"

    def counts_json(self) -> dict[str, object]:
        return counts_document(self.lifetime, self.lifetime_outcomes)

    # -- the run document ----------------------------------------------------------------------------------

    def probe_results(self) -> list[dict[str, Any]]:
        """One entry per probe, shaped like `harness.runner.ProbeResult.to_json()`."""
        out = []
        for spec in self.plan.probes:
            who = self.identity(spec.identity)
            verdicts: dict[str, Verdict] = {key: test.verdict() for key, test in who.tests.items()}
            status = _combine(v.status for v in verdicts.values())
            requests = max((v.n for v in verdicts.values()), default=0)
            if who.decided() and status is not Status.INCONCLUSIVE:
                stopped_by = "decided"
            elif any(v.n >= spec.max_requests for v in verdicts.values()):
                stopped_by = "max_requests"
            else:
                stopped_by = "time_budget"
            end = who.decided_at if who.decided_at is not None else self.clock()
            seconds = end - who.first_seen if who.first_seen is not None else 0.0
            reviews, pages = verdicts.get("reviews"), verdicts.get("pages")
            out.append(
                {
                    "name": spec.name,
                    "user": None if spec.identity == ANONYMOUS else spec.identity,
                    "verdict": status.value,
                    "requests": requests,
                    "seconds": round(seconds, 3),
                    "stopped_by": stopped_by,
                    "reviews": reviews.to_json() if reviews else None,
                    "pages": pages.to_json() if pages else None,
                }
            )
        return out

    def document(
        self,
        *,
        target: str,
        seed: int | None = None,
        seconds: float | None = None,
        driver: Mapping[str, object] | None = None,
    ) -> dict[str, object]:
        """The run document, shaped like `bookinfo-harness run --json` (harness.report.run_document)."""
        probes = self.probe_results()
        status = _combine(Status(p["verdict"]) for p in probes)
        observed = {p["name"]: p["reviews"]["shares"] for p in probes if p["reviews"]}
        expected = {p["name"]: p["reviews"]["expected"] for p in probes if p["reviews"]}
        error = None if probes else "no expectation given: pass --expect, --expect-jason or --scenario"
        scenario = {
            "name": self.plan.scenario,
            "description": self.plan.description,
            "verdict": status.value,
            "requests": sum(int(p["requests"]) for p in probes),
            "observed": observed,
            "expected": expected,
            "findings": [],
            "checks": [],
            "probes": probes,
            "mirror": None,
            "applied": [],
            "seconds": round(self.clock() - self.started if seconds is None else seconds, 3),
            "error": error,
        }
        document: dict[str, object] = {"target": target, "seed": seed, "scenarios": [scenario]}
        if driver is not None:
            document["driver"] = dict(driver)
        return document

    def status(self) -> Status:
        return _combine(Status(p["verdict"]) for p in self.probe_results())
