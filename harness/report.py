"""The verdict table printed at the end of a run, and the run's JSON document. Pure formatting."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from harness.runner import ScenarioResult


def _shares(shares: Mapping[str, float] | None) -> str:
    if not shares:
        return "-"
    return " ".join(f"{k}={v:.2f}" for k, v in sorted(shares.items()) if v > 0 or len(shares) == 1) or "-"


def verdict_table(results: Sequence[ScenarioResult]) -> str:
    rows = [("SCENARIO", "VERDICT", "REQUESTS", "OBSERVED", "EXPECTED", "SECONDS", "NOTES")]
    for result in results:
        observed, expected = [], []
        for probe in result.probes:
            verdict = probe.reviews or probe.pages
            if verdict is None:
                continue
            label = f"{probe.user}:" if probe.user else ""
            observed.append(label + _shares(verdict.shares))
            expected.append(label + _shares(verdict.expected))
        if result.mirror is not None:
            observed.append(f"mirror={result.mirror.shares.get('mirrored', 0):.2f}")
            expected.append(f"mirror={result.mirror.expected.get('mirrored', 0):.2f}")
        notes = []
        if result.error:
            notes.append(result.error)
        notes += [f"{c.name}: {c.detail}" for c in result.checks if not c.ok]
        notes += [f"{f['code']} {f['message']}" for f in result.findings if f["level"] == "Error"]
        for probe in result.probes:
            for verdict in (probe.reviews, probe.pages):
                if verdict is not None and verdict.status.value != "PASS":
                    notes.append(verdict.reason)
        if not notes and result.checks:
            notes.append(f"{len(result.checks)} check{'s' if len(result.checks) != 1 else ''} ok")
        rows.append(
            (
                result.name,
                result.status.value,
                str(result.requests),
                " | ".join(observed) or "-",
                " | ".join(expected) or "-",
                f"{result.seconds:.1f}",
                "; ".join(notes)[:160],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        lines.append(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1]
        )
    return "\n".join(line.rstrip() for line in lines)


def run_document(results: Sequence[ScenarioResult], *, target: str, seed: int | None) -> dict[str, object]:
    return {"target": target, "seed": seed, "scenarios": [r.to_json() for r in results]}
