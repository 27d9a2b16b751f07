"""Self-contained HTML reports: a run's verdicts (`write_report`) and a score sheet (`write_grade_report`).

One file each, no external resources (no CDN, no fonts, no links): inline CSS, inline SVG charts, no script.
Every chart has a text alternative (an SVG <title>/<desc> and a table next to it). Pure apart from the final
file write.

`ConvergenceTrace` is what the runner records while a sequential test is fed: the counts every `every`
requests (bounded: past `max_points` points every other point is dropped and `every` doubles), the final
counts and the request at which the test decided. The run report draws the shares converging from it.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.stats import (
    fixed_sample_size,
    leak_min_requests,
    mixture_confidence_sequence,
    wald_expected_sample_size,
)

if TYPE_CHECKING:
    from harness.runner import ProbeResult, ScenarioResult
    from harness.verdict import Verdict

# Okabe-Ito: distinguishable with the common colour-vision deficiencies (lines also differ by dash pattern)
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2", "10 4")
STATUS_ICON = {"PASS": "✓", "FAIL": "✗", "INCONCLUSIVE": "?"}

BASE_CSS = """
:root{color-scheme:light;--fg:#1b1f24;--muted:#5a6370;--line:#d5dae0;--bg:#fff;--pass:#1a7f37;--fail:#b00020;
--warn:#8a5a00;--band:#eef3f8}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg)}
header,main,footer{max-width:1100px;margin:0 auto;padding:.75rem 1rem}
h1{font-size:1.45rem;margin:.25rem 0}h2{font-size:1.2rem;margin:1.5rem 0 .5rem}
h3{font-size:1.05rem;margin:1rem 0 .4rem}
.muted{color:var(--muted)}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;width:100%;margin:.4rem 0 1rem;font-size:.9rem}
caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{border-bottom:1px solid var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.bad td{background:#fff3f3}
table.summary td:first-child{white-space:nowrap}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:1rem;font-weight:700;font-size:.85rem;
border:1px solid currentColor;white-space:nowrap}
.badge.pass{color:var(--pass);background:#e9f6ec}.badge.fail{color:var(--fail);background:#fdecee}
.badge.inconclusive,.badge.warn,.badge.partial{color:var(--warn);background:#fff5e0}
.badge.gated,.badge.flagged,.badge.error{color:var(--fail);background:#fdecee}
button{font:inherit;padding:.2rem .7rem;border:1px solid var(--line);border-radius:.4rem;background:#f6f8fa}
section.scenario{border-top:2px solid var(--line);margin-top:1.5rem}
.kv{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:.4rem 0}
.kv dt{color:var(--muted)}.kv dd{margin:0}
figure{margin:.5rem 0;overflow-x:auto}
svg.chart{width:100%;height:auto;max-width:760px;font:12px system-ui,sans-serif;color:var(--fg)}
svg text{fill:currentColor}
.bar{background:#e8ebef;border-radius:4px;height:.8rem;min-width:5rem;overflow:hidden}
.bar>span{display:block;height:100%;background:var(--pass)}
.bar.partial>span{background:var(--warn)}.bar.low>span{background:var(--fail)}
code,pre{font:13px ui-monospace,SFMono-Regular,Menlo,monospace}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:.5rem;border-radius:.3rem}
details>summary{cursor:pointer;color:var(--muted)}
@media (max-width:640px){body{font-size:14px}header,main,footer{padding:.5rem .6rem}
 table.stack-sm thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
 table.stack-sm tr{display:block;border-bottom:1px solid var(--line);padding:.3rem 0}
 table.stack-sm td{display:block;border:0;padding:.1rem .2rem;text-align:left}
 table.stack-sm td[data-label]::before{content:attr(data-label) ": ";color:var(--muted)}
 .kv{grid-template-columns:1fr}.kv dt{margin-top:.3rem}svg.chart{min-width:540px}}
@media print{.badge{border-width:2px}}
"""


# ------------------------------------------------------------------------------------------- the trace
def trace_key(scenario: str, probe: str, test: str = "reviews") -> str:
    """How the runner names a probe's trace in the `traces` dict passed to `write_report`."""
    return f"{scenario}/{probe}/{test}"


@dataclass
class ConvergenceTrace:
    """Counts of a sequential test as requests arrive: bounded, pure, JSON round-trippable."""

    expected: dict[str, float]
    tolerance: float = 0.1
    max_points: int = 240
    every: int = 1
    n: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    points: list[tuple[int, dict[str, int]]] = field(default_factory=list)
    decided_at: int | None = None
    status: str | None = None

    def __post_init__(self) -> None:
        if self.max_points < 4:
            raise ValueError("max_points must be >= 4")
        for name in self.expected:
            self.counts.setdefault(name, 0)

    def observe(self, category: str, verdict: Verdict | None = None) -> None:
        """Record one request fed to the test (and the verdict, when this request decided it)."""
        if self.decided_at is not None:
            return
        self.n += 1
        self.counts[category] = self.counts.get(category, 0) + 1
        if self.n % self.every == 0:
            self.points.append((self.n, dict(self.counts)))
            if len(self.points) > self.max_points:
                self.points = self.points[1::2]
                self.every *= 2
        if verdict is not None:
            self.decide(verdict.status.value)

    def decide(self, status: str) -> None:
        self.decided_at = self.n
        self.status = status

    def series(self) -> list[tuple[int, dict[str, int]]]:
        """The recorded points plus the latest counts (the decision point when decided)."""
        points = list(self.points)
        if self.n and (not points or points[-1][0] != self.n):
            points.append((self.n, dict(self.counts)))
        return points

    def to_json(self) -> dict[str, object]:
        return {
            "expected": dict(self.expected),
            "tolerance": self.tolerance,
            "max_points": self.max_points,
            "every": self.every,
            "n": self.n,
            "counts": dict(self.counts),
            "points": [[n, dict(c)] for n, c in self.points],
            "decided_at": self.decided_at,
            "status": self.status,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConvergenceTrace:
        return cls(
            expected={k: float(v) for k, v in data["expected"].items()},
            tolerance=float(data.get("tolerance", 0.1)),
            max_points=int(data.get("max_points", 240)),
            every=int(data.get("every", 1)),
            n=int(data.get("n", 0)),
            counts={k: int(v) for k, v in data.get("counts", {}).items()},
            points=[(int(n), {k: int(v) for k, v in c.items()}) for n, c in data.get("points", [])],
            decided_at=data.get("decided_at"),
            status=data.get("status"),
        )


# --------------------------------------------------------------------------------------------- helpers
def _pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f}%"


def _num(x: float) -> str:
    return f"{x:g}" if abs(x - round(x)) < 1e-9 else f"{x:.2f}"


def _badge(status: str) -> str:
    s = str(status)
    return f'<span class="badge {escape(s.lower())}">{STATUS_ICON.get(s.upper(), "")} {escape(s)}</span>'


def _categories(expected: Mapping[str, float], *more: Iterable[str]) -> list[str]:
    names = list(expected)
    for group in more:
        for name in group:
            if name not in names:
                names.append(name)
    return names


def _color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def minimum_requests(verdict: Verdict) -> dict[str, float | int | None]:
    """Reference sample sizes for the verdict's split and rates.

    `wald`: the largest Wald E0[N] of the one-sided SPRTs "e_i against e_i +- delta" (the least a sequential
    test needs on average at the expected split; the harness's PASS, which needs every side, takes ~1.4x);
    `leak`: requests without a leak needed to exclude a leak rate (zero categories, or a single 1.0);
    `fixed`: the fixed-sample two-sided exact binomial test's n; `minimum`: max(wald, leak).
    """
    delta, alpha, beta = verdict.tolerance, verdict.alpha, verdict.beta
    wald: float | None = None
    fixed: int | None = None
    for share in verdict.expected.values():
        if not 0.0 < share < 1.0:
            continue
        for p1 in (share - delta, share + delta):
            if 0.0 < p1 < 1.0:
                try:
                    e0, _ = wald_expected_sample_size(share, p1, alpha, beta)
                except ValueError:
                    continue
                wald = e0 if wald is None else max(wald, e0)
        try:
            n_fixed = fixed_sample_size(share, delta, alpha, beta, method="normal")
        except ValueError:
            continue
        fixed = n_fixed if fixed is None else max(fixed, n_fixed)
    leak: int | None = None
    zero = any(v <= 0.0 for v in verdict.expected.values()) or len(verdict.expected) == 1
    if verdict.leak_tolerance or zero:
        try:
            leak = leak_min_requests(verdict.leak_tolerance or delta, beta)
        except ValueError:
            leak = None
    candidates = [x for x in (wald, leak) if x is not None]
    return {
        "wald": None if wald is None else round(wald, 1),
        "leak": leak,
        "fixed": fixed,
        "minimum": math.ceil(max(candidates)) if candidates else None,
    }


# ---------------------------------------------------------------------------------------------- charts
def convergence_svg(trace: ConvergenceTrace, verdict: Verdict | None, chart_id: str) -> str:
    """Shares against requests, with the expected +-delta bands, anytime-valid intervals and the decision."""
    w, h, left, right, top, bottom = 720, 300, 48, 110, 16, 40
    pw, ph = w - left - right, h - top - bottom
    series = trace.series()
    n_max = max(trace.n, 1)
    alpha = verdict.alpha if verdict is not None else None
    names = _categories(trace.expected, trace.counts)

    def x(n: float) -> float:
        return left + pw * n / n_max

    def y(share: float) -> float:
        return top + ph * (1.0 - share)

    decided = trace.decided_at
    status = trace.status or (verdict.status.value if verdict is not None else "undecided")
    desc = (
        f"Shares of {', '.join(names)} after each of {trace.n} requests; expected "
        + ", ".join(f"{k} {_pct(v, 0)}" for k, v in trace.expected.items())
        + f" within ±{_pct(trace.tolerance, 0)}. "
        + (f"The test decided {status} at request {decided}." if decided else "The test did not decide.")
    )
    out = [
        f'<svg class="chart convergence" viewBox="0 0 {w} {h}" role="img"'
        f' aria-labelledby="{chart_id}-t {chart_id}-d">',
        f'<title id="{chart_id}-t">Shares converging as requests arrive</title>',
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>',
    ]
    for i, name in enumerate(names):  # tolerance bands around the expected shares
        e = trace.expected.get(name, 0.0)
        lo, hi = max(0.0, e - trace.tolerance), min(1.0, e + trace.tolerance)
        out.append(
            f'<rect x="{left}" y="{y(hi):.1f}" width="{pw}" height="{y(lo) - y(hi):.1f}" fill="{_color(i)}"'
            ' fill-opacity="0.08"/>'
        )
    for t in range(0, 11, 2):  # grid and y axis
        yy = y(t / 10)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e3e6ea"/>')
        out.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{t * 10}%</text>')
    step = _nice_step(n_max)
    tick = 0
    while tick <= n_max:
        out.append(f'<text x="{x(tick):.1f}" y="{top + ph + 16}" text-anchor="middle">{tick}</text>')
        tick += step
    out.append(
        f'<text x="{left + pw / 2}" y="{h - 4}" text-anchor="middle" class="muted">requests</text>'
        f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" stroke="#888"/>'
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + ph}" stroke="#888"/>'
    )
    for i, name in enumerate(names):
        color, dash = _color(i), DASHES[i % len(DASHES)]
        e = trace.expected.get(name, 0.0)
        out.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{y(e):.1f}" y2="{y(e):.1f}" stroke="{color}"'
            ' stroke-width="1" stroke-dasharray="3 3" opacity="0.8"/>'
        )
        if alpha is not None and series:
            upper, lower = [], []
            for n, counts in series:
                lo, hi = mixture_confidence_sequence(counts.get(name, 0), n, alpha / max(len(names), 1))
                upper.append(f"{x(n):.1f},{y(hi):.1f}")
                lower.append(f"{x(n):.1f},{y(lo):.1f}")
            out.append(
                f'<polygon points="{" ".join(upper + lower[::-1])}" fill="{color}" fill-opacity="0.13"'
                ' stroke="none"/>'
            )
        pts = " ".join(f"{x(n):.1f},{y(c.get(name, 0) / n):.1f}" for n, c in series if n)
        if pts:
            out.append(
                f'<polyline class="share-line" data-category="{escape(name)}" points="{pts}" fill="none"'
                f' stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/>'
            )
    # end labels: final share per category, pushed apart so that close shares stay readable
    finals = sorted(
        ((trace.counts.get(name, 0) / trace.n if trace.n else 0.0, i, name) for i, name in enumerate(names)),
        reverse=True,
    )
    last_y = -1e9
    for share, i, name in finals:
        ly = max(y(share) + 4, last_y + 14)
        last_y = ly
        out.append(
            f'<text x="{left + pw + 6}" y="{ly:.1f}" style="fill:{_color(i)}">'
            f"{escape(name)} {_pct(share)}</text>"
        )
    if decided:
        xd = x(decided)
        out.append(
            f'<g class="decision"><line x1="{xd:.1f}" x2="{xd:.1f}" y1="{top}" y2="{top + ph}"'
            ' stroke="#1b1f24"'
            ' stroke-width="1.5" stroke-dasharray="5 3"/>'
            f'<text x="{min(xd, left + pw) - 4:.1f}" y="{top + 12}" text-anchor="end" font-weight="700">'
            f"{escape(status)} at n={decided}</text></g>"
        )
    out.append("</svg>")
    return "".join(out)


def _nice_step(n: int) -> int:
    raw = max(n / 6, 1)
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * mag >= raw:
            return int(m * mag)
    return int(10 * mag)


def intervals_svg(verdict: Verdict, chart_id: str) -> str:
    """Per category: expected share with its +-delta band, observed share with its confidence interval."""
    names = list(verdict.expected)
    row, left, right, w = 34, 110, 20, 720
    pw = w - left - right
    h = 30 + row * len(names) + 20

    def x(share: float) -> float:
        return left + pw * share

    desc = "; ".join(
        f"{n}: expected {_pct(verdict.expected[n])}, observed {_pct(verdict.shares.get(n, 0.0))},"
        f" interval {_pct(verdict.intervals.get(n, (0, 0))[0])}"
        f" to {_pct(verdict.intervals.get(n, (0, 0))[1])}"
        for n in names
    )
    out = [
        f'<svg class="chart intervals" viewBox="0 0 {w} {h}" role="img"'
        f' aria-labelledby="{chart_id}-t {chart_id}-d">',
        f'<title id="{chart_id}-t">Expected and observed shares with confidence intervals</title>',
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>',
    ]
    for t in range(0, 11, 2):
        out.append(
            f'<line x1="{x(t / 10):.1f}" x2="{x(t / 10):.1f}" y1="18" y2="{h - 18}" stroke="#e3e6ea"/>'
            f'<text x="{x(t / 10):.1f}" y="12" text-anchor="middle">{t * 10}%</text>'
        )
    for i, name in enumerate(names):
        cy = 30 + i * row + row / 2
        e = verdict.expected[name]
        half = verdict.tolerance if e > 0 else (verdict.leak_tolerance or verdict.tolerance)
        lo_b, hi_b = max(0.0, e - half), min(1.0, e + half)
        lo, hi = verdict.intervals.get(name, (0.0, 0.0))
        obs = verdict.shares.get(name, 0.0)
        color = _color(i)
        out.append(
            f'<text x="{left - 8}" y="{cy + 4:.1f}" text-anchor="end">{escape(name)}</text>'
            f'<rect x="{x(lo_b):.1f}" y="{cy - 10:.1f}" width="{x(hi_b) - x(lo_b):.1f}" height="20"'
            ' fill="#dfe9f3"/>'
            f'<line x1="{x(e):.1f}" x2="{x(e):.1f}" y1="{cy - 12:.1f}" y2="{cy + 12:.1f}" stroke="#1b1f24"'
            ' stroke-width="2"/>'
            f'<line x1="{x(lo):.1f}" x2="{x(hi):.1f}" y1="{cy:.1f}" y2="{cy:.1f}" stroke="{color}"'
            ' stroke-width="3"/>'
            f'<circle cx="{x(obs):.1f}" cy="{cy:.1f}" r="5" fill="{color}" stroke="#fff"/>'
        )
    out.append("</svg>")
    return "".join(out)


def _timeline(results: Sequence[ScenarioResult]) -> str:
    """The run as a Gantt chart (setup, then each probe) and the same as an ordered list."""
    total = sum(r.seconds for r in results) or 1.0
    w, left, right, row = 720, 170, 60, 26
    pw = w - left - right
    h = 26 + row * len(results) + 8
    svg = [
        f'<svg class="chart timeline" viewBox="0 0 {w} {h}" role="img"'
        ' aria-labelledby="tl-t tl-d"><title id="tl-t">Run timeline</title>'
        '<desc id="tl-d">Each scenario in order: setup, configuration checks and convergence gate (grey),'
        " then each probe's sampling (coloured by its verdict). The same information follows as a list."
        "</desc>",
    ]
    colors = {"PASS": "#1a7f37", "FAIL": "#b00020", "INCONCLUSIVE": "#b07d00"}
    items = []
    start = 0.0

    def x(t: float) -> float:
        return left + pw * t / total

    for i, r in enumerate(results):
        cy = 22 + i * row
        probe_s = sum(p.seconds for p in r.probes)
        setup = max(r.seconds - probe_s, 0.0)
        svg.append(
            f'<text x="{left - 6}" y="{cy + 13}" text-anchor="end">{escape(_short(r.name, 24))}</text>'
            f'<rect x="{x(start):.1f}" y="{cy}" width="{max(x(start + setup) - x(start), 0.5):.1f}"'
            ' height="18"'
            ' fill="#c5cbd3"/>'
        )
        parts = [f"setup, checks and gate {setup:.1f} s"]
        t = start + setup
        for p in r.probes:
            status = p.status.value
            svg.append(
                f'<rect x="{x(t):.1f}" y="{cy}" width="{max(x(t + p.seconds) - x(t), 0.5):.1f}" height="18"'
                f' fill="{colors.get(status, "#888")}"><title>{escape(p.name)} {status}</title></rect>'
            )
            parts.append(
                f"probe {p.name} {p.seconds:.1f} s, {p.requests} requests, {status} ({p.stopped_by})"
            )
            t += p.seconds
        svg.append(
            f'<text x="{x(start + r.seconds) + 4:.1f}" y="{cy + 13}">{STATUS_ICON.get(r.status.value, "")}'
            f" {r.seconds:.1f}s</text>"
        )
        items.append(
            f"<li><strong>{start:.1f}–{start + r.seconds:.1f} s</strong> {escape(r.name)}"
            f" {_badge(r.status.value)}: {escape('; '.join(parts))}</li>"
        )
        start += r.seconds
    svg.append("</svg>")
    return f'<figure>{"".join(svg)}</figure><ol class="timeline-list">{"".join(items)}</ol>'


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# -------------------------------------------------------------------------------------------- the report
def _shares_table(verdict: Verdict, label: str) -> str:
    rows = []
    for name in _categories(verdict.expected, verdict.counts):
        e = verdict.expected.get(name, 0.0)
        lo, hi = verdict.intervals.get(name, (0.0, 0.0))
        half = verdict.tolerance if e > 0 else (verdict.leak_tolerance or verdict.tolerance)
        rows.append(
            f'<tr><td data-label="category">{escape(name)}</td>'
            f'<td class="num" data-label="expected">{_pct(e)}</td>'
            f'<td class="num" data-label="band">{_pct(max(0.0, e - half))}–{_pct(min(1.0, e + half))}</td>'
            f'<td class="num" data-label="observed">{_pct(verdict.shares.get(name, 0.0))}</td>'
            f'<td class="num" data-label="count">{verdict.counts.get(name, 0)}</td>'
            f'<td class="num" data-label="interval">{_pct(lo)}–{_pct(hi)}</td></tr>'
        )
    return (
        f'<div class="scroll"><table class="shares stack-sm"><caption>{escape(label)}: expected vs observed'
        f" (intervals: joint {1 - verdict.alpha:g} confidence)</caption><thead><tr>"
        '<th scope="col">Category</th><th scope="col" class="num">Expected</th>'
        '<th scope="col" class="num">Band (±δ)</th><th scope="col" class="num">Observed</th>'
        '<th scope="col" class="num">Count</th><th scope="col" class="num">Interval</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _requests_block(verdict: Verdict) -> str:
    ref = minimum_requests(verdict)
    minimum = ref["minimum"]
    ratio = f" ({verdict.n / minimum:.2f}× the minimum)" if minimum else ""
    rows = [
        ("requests used", f'<span class="used">{verdict.n}</span>{ratio}'),
        (
            "statistical minimum",
            "–"
            if minimum is None
            else f'<span class="minimum">{minimum}</span>'
            " (largest of Wald's E0[N] for a one-sided SPRT and the leak-free run length)",
        ),
    ]
    if ref["wald"] is not None:
        rows.append(("Wald E0[N]", f"{ref['wald']:.0f}"))
    if ref["leak"] is not None:
        rows.append(("leak-free requests", str(ref["leak"])))
    if ref["fixed"] is not None:
        rows.append(("fixed-sample test would need", f"≈{ref['fixed']} (normal approximation)"))
    rows.append(("error rates", f"α={verdict.alpha:g}, β={verdict.beta:g}, δ={verdict.tolerance:g}"))
    scale = max(verdict.n, minimum or 0, ref["fixed"] or 0, 1)
    bars = "".join(
        f'<div class="req-bar"><span class="muted">{label}</span><div class="bar" role="img"'
        f' aria-label="{label} {value}"><span style="width:{100 * value / scale:.1f}%"></span></div></div>'
        for label, value in (("used", verdict.n), ("minimum", minimum or 0), ("fixed n", ref["fixed"] or 0))
    )
    return (
        '<dl class="kv requests">'
        + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
        + f"</dl><div class='req-bars'>{bars}</div>"
    )


def _trace_table(trace: ConvergenceTrace, names: Sequence[str]) -> str:
    series = trace.series()
    if len(series) > 12:  # a readable sample of the points: evenly spaced, always with the last
        idx = sorted({round(i * (len(series) - 1) / 11) for i in range(12)})
        series = [series[i] for i in idx]
    head = "".join(f'<th scope="col" class="num">{escape(n)}</th>' for n in names)
    body = "".join(
        f'<tr><td class="num">{n}</td>'
        + "".join(f'<td class="num">{_pct(c.get(name, 0) / n if n else 0.0)}</td>' for name in names)
        + "</tr>"
        for n, c in series
    )
    return (
        "<details><summary>Chart data as a table</summary><div class='scroll'><table class='trace'>"
        f"<thead><tr><th scope='col' class='num'>requests</th>{head}</tr></thead><tbody>{body}</tbody>"
        "</table></div></details>"
    )


def _verdict_block(verdict: Verdict, label: str, trace: ConvergenceTrace | None, chart_id: str) -> str:
    parts = [
        f'<p class="verdict" data-status="{verdict.status.value}">{_badge(verdict.status.value)}'
        f" {escape(verdict.reason)}</p>",
        _shares_table(verdict, label),
        f"<figure>{intervals_svg(verdict, chart_id + '-ci')}<figcaption class='muted'>Shaded: expected ±δ."
        " Black tick: expected share. Dot and bar: observed share and its interval.</figcaption></figure>",
    ]
    if trace is not None and trace.n:
        parts.append(
            f"<figure>{convergence_svg(trace, verdict, chart_id + '-cv')}<figcaption class='muted'>"
            "Lines: observed"
            " shares as requests arrive (recorded every "
            f"{trace.every} request{'s' if trace.every > 1 else ''}); dotted: expected; light bands: ±δ;"
            " shaded envelopes: anytime-valid intervals; dashed vertical: where the test decided."
            "</figcaption></figure>"
        )
        parts.append(_trace_table(trace, _categories(trace.expected, trace.counts)))
    elif label != "mirror":
        parts.append('<p class="muted">No convergence trace was recorded for this probe.</p>')
    parts.append(_requests_block(verdict))
    parts.append(f"<details><summary>Method</summary><p>{escape(verdict.method)}</p></details>")
    return "".join(parts)


def _probe_section(result: ScenarioResult, probe: ProbeResult, traces: Mapping[str, Any], index: str) -> str:
    who = f"user {probe.user}" if probe.user else "anonymous"
    who_html = f' <span class="muted">({escape(who)})</span>' if who != probe.name else ""
    out = [
        f"<h3>Probe {escape(probe.name)}{who_html} {_badge(probe.status.value)}</h3>",
        f'<p class="muted">{probe.requests} requests in {probe.seconds:.1f} s, stopped by'
        f" {escape(probe.stopped_by)}</p>",
    ]
    for test, verdict in (("reviews", probe.reviews), ("pages", probe.pages)):
        if verdict is None:
            continue
        trace = _as_trace(traces.get(trace_key(result.name, probe.name, test)))
        out.append(f"<h4>{'Reviews version' if test == 'reviews' else 'Page states'}</h4>")
        out.append(_verdict_block(verdict, test, trace, f"c{index}-{test}"))
    return "".join(out)


def _as_trace(value: Any) -> ConvergenceTrace | None:
    if value is None or isinstance(value, ConvergenceTrace):
        return value
    return ConvergenceTrace.from_json(value)


def _table(caption: str, headers: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f'<td data-label="{escape(h)}">{c}</td>' for h, c in zip(headers, r, strict=False))
        + "</tr>"
        for r in rows
    )
    return (
        f'<div class="scroll"><table class="stack-sm {cls}"><caption>{escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _scenario_section(result: ScenarioResult, traces: Mapping[str, Any], index: int) -> str:
    out = [
        f'<section class="scenario" data-scenario="{escape(result.name)}"'
        f' aria-labelledby="s{index}"><h2 id="s{index}">{escape(result.name)}'
        f" {_badge(result.status.value)}</h2>",
        f"<p>{escape(result.description)}</p>" if result.description else "",
        f'<p class="muted">{result.requests} requests, {result.seconds:.1f} s</p>',
    ]
    if result.error:
        out.append(f'<p class="error"><strong>Error:</strong> {escape(result.error)}</p>')
    for j, probe in enumerate(result.probes):
        out.append(_probe_section(result, probe, traces, f"{index}-{j}"))
    if result.mirror is not None:
        out.append(f"<h3>Mirrored traffic {_badge(result.mirror.status.value)}</h3>")
        out.append(_verdict_block(result.mirror, "mirror", None, f"c{index}-mirror"))
    if result.checks:
        out.append(
            _table(
                "Checks",
                ("Check", "Result", "Detail"),
                [
                    (escape(c.name), _badge("PASS" if c.ok else "FAIL"), escape(c.detail))
                    for c in result.checks
                ],
            )
        )
    if result.findings:
        out.append(
            _table(
                "Configuration findings",
                ("Code", "Level", "Object", "Message"),
                [
                    (
                        f"<code>{escape(f.get('code', ''))}</code>",
                        escape(f.get("level", "")),
                        escape(f.get("object", "")),
                        escape(f.get("message", "")),
                    )
                    for f in result.findings
                ],
                "findings",
            )
        )
    else:
        out.append('<p class="muted">No configuration findings.</p>')
    if result.applied:
        items = "".join(f"<li><code>{escape(a)}</code></li>" for a in result.applied)
        out.append(f"<h3>Config applied</h3><ul class='applied'>{items}</ul>")
    out.append("</section>")
    return "".join(out)


def _page(title: str, subtitle: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{BASE_CSS}</style></head><body>"
        f'<header><h1>{escape(title)}</h1><p class="muted">{escape(subtitle)}</p></header>'
        f"<main>{body}</main>"
        '<footer class="muted">Generated by bookinfo-harness. Self-contained: no scripts, no external'
        " resources.</footer></body></html>\n"
    )


def render_report(
    results: Sequence[ScenarioResult],
    traces: Mapping[str, Any] | None = None,
    *,
    title: str = "bookinfo-harness run",
    target: str | None = None,
    generated: str | None = None,
) -> str:
    """The run report as one HTML document (see `write_report`)."""
    traces = traces or {}
    when = generated or time.strftime("%Y-%m-%d %H:%M:%S %Z")
    counts = {s: sum(1 for r in results if r.status.value == s) for s in ("PASS", "FAIL", "INCONCLUSIVE")}
    overall = "FAIL" if counts["FAIL"] else ("INCONCLUSIVE" if counts["INCONCLUSIVE"] else "PASS")
    summary_rows = [
        (
            escape(r.name),
            _badge(r.status.value),
            str(r.requests),
            f"{r.seconds:.1f}",
            escape(_short(_notes(r), 160)),
        )
        for r in results
    ]
    body = [
        f'<p class="overall" data-status="{overall}">{_badge(overall)} {len(results)} scenarios:'
        f" {counts['PASS']} passed, {counts['FAIL']} failed, {counts['INCONCLUSIVE']} inconclusive;"
        f" {sum(r.requests for r in results)} requests in {sum(r.seconds for r in results):.1f} s</p>",
        _table("Verdicts", ("Scenario", "Verdict", "Requests", "Seconds", "Notes"), summary_rows, "summary"),
        "<h2>Timeline</h2>",
        _timeline(results) if results else "<p>No scenarios ran.</p>",
    ]
    body += [_scenario_section(r, traces, i) for i, r in enumerate(results)]
    subtitle = f"{'target ' + target + ' · ' if target else ''}generated {when}"
    return _page(title, subtitle, "".join(body))


def _notes(result: ScenarioResult) -> str:
    notes = [result.error] if result.error else []
    notes += [f"{c.name}: {c.detail}" for c in result.checks if not c.ok]
    notes += [f"{f['code']} {f['message']}" for f in result.findings if f.get("level") == "Error"]
    for probe in result.probes:
        for verdict in (probe.reviews, probe.pages):
            if verdict is not None and verdict.status.value != "PASS":
                notes.append(verdict.reason)
    return "; ".join(n for n in notes if n)


def write_report(
    results: Sequence[ScenarioResult],
    traces: Mapping[str, Any] | None,
    path: str | Path,
    **options: Any,
) -> Path:
    """Write the run report: one self-contained HTML file. `traces` maps `trace_key(...)` to a
    `ConvergenceTrace` (or its `to_json()`); probes without one get no convergence chart."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(results, traces, **options), encoding="utf-8")
    return out


# --------------------------------------------------------------------------------------------- grading
def _sheets(data: Any) -> list[Mapping[str, Any]]:
    if isinstance(data, Path) or (isinstance(data, str) and not data.lstrip().startswith(("{", "["))):
        data = json.loads(Path(data).read_text(encoding="utf-8"))
    elif isinstance(data, str):
        data = json.loads(data)
    if isinstance(data, Mapping) and "sheets" in data:
        return list(data["sheets"])
    if isinstance(data, Mapping):
        return [data]
    if isinstance(data, Sequence):
        return list(data)
    raise ValueError("a score sheet is a JSON object (one sheet or {'sheets': [...]}) or a list of sheets")


def _points(value: Any) -> tuple[float, float]:
    """(earned, possible) from {"earned", "points"} or a number pair."""
    if isinstance(value, Mapping):
        return float(value.get("earned", 0) or 0), float(value.get("points", 0) or 0)
    return 0.0, 0.0


def _meter(earned: float, possible: float, label: str) -> str:
    frac = earned / possible if possible else 0.0
    cls = "" if frac >= 1 - 1e-9 else ("partial" if frac >= 0.5 else "low")
    return (
        f'<div class="bar {cls}" role="img" aria-label="{escape(label)}: {_num(earned)} of {_num(possible)}'
        f' points"><span style="width:{100 * frac:.1f}%"></span></div>'
    )


def _item_advice(item: Mapping[str, Any]) -> str:
    if item.get("reason"):
        return str(item["reason"])
    if item.get("advice"):
        return str(item["advice"])
    for c in item.get("checks", []) or []:
        if not c.get("passed", True) and c.get("advice"):
            return str(c["advice"])
    return ""


def _sheet_section(sheet: Mapping[str, Any], index: int) -> str:
    items = list(sheet.get("items", []) or [])
    total = sheet.get("total")
    if isinstance(total, Mapping):
        earned, possible = _points(total)
    else:
        earned = sum(float(i.get("earned", 0) or 0) for i in items)
        possible = sum(float(i.get("points", 0) or 0) for i in items)
    name = str(sheet.get("target") or sheet.get("name") or f"sheet {index + 1}")
    meta = [
        ("rubric", sheet.get("rubric")),
        ("identity", sheet.get("identity")),
        ("API server", sheet.get("api_server")),
        ("context", sheet.get("context")),
        ("server version", sheet.get("server_version")),
        ("started", sheet.get("started")),
        ("seconds", sheet.get("seconds")),
    ]
    out = [
        f'<section class="scenario sheet" data-target="{escape(name)}" aria-labelledby="g{index}">'
        f'<h2 id="g{index}">{escape(name)} <span class="score">{_num(earned)} / {_num(possible)}</span></h2>',
        _meter(earned, possible, "total score"),
        '<dl class="kv">'
        + "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in meta if v not in (None, "")),
    ]
    for part in ("config", "behaviour"):
        if isinstance(sheet.get(part), Mapping):
            e, p = _points(sheet[part])
            out.append(f"<dt>{part}</dt><dd>{_num(e)} / {_num(p)}</dd>")
    out.append("</dl>")
    if sheet.get("reachable") is False:
        out.append('<p class="error"><strong>Target unreachable:</strong> it scores zero.</p>')
    for error in sheet.get("errors", []) or []:
        out.append(f'<p class="error">{escape(str(error))}</p>')
    rows = []
    for item in items:
        e, p = float(item.get("earned", 0) or 0), float(item.get("points", 0) or 0)
        status = str(item.get("status") or ("pass" if e >= p - 1e-9 else "fail"))
        rows.append(
            (
                f"<code>{escape(str(item.get('id', '')))}</code>",
                escape(str(item.get("title", ""))),
                f'<span class="pts">{_num(e)} / {_num(p)}</span>' + _meter(e, p, f"{item.get('id', '')}"),
                _badge(status),
                escape(_item_advice(item)) if e < p - 1e-9 or status != "pass" else "",
            )
        )
    out.append(_table("Items", ("Item", "Title", "Points", "Status", "Advice"), rows, "items"))
    failed = [
        (item, c)
        for item in items
        for c in (item.get("checks", []) or [])
        if isinstance(c, Mapping) and not c.get("passed", True)
    ]
    if failed:
        out.append("<h3>What to fix</h3>")
        for item, c in failed:
            fields = [
                ("expected", c.get("expected")),
                ("found", c.get("found")),
                ("where", c.get("where")),
                ("advice", c.get("advice")),
                ("diagnoses", "; ".join(map(str, c.get("diagnoses", []) or []))),
            ]
            out.append(
                f'<div class="failed-check"><h4><code>{escape(str(item.get("id", "")))}</code> ✗'
                f" {escape(str(c.get('id', '')))} <span class='muted'>[{escape(str(c.get('category', '')))}]"
                "</span></h4><dl class='kv'>"
                + "".join(f"<dt>{k}</dt><dd>{escape(str(v))}</dd>" for k, v in fields if v)
                + "</dl></div>"
            )
    out.append("</section>")
    return "".join(out)


def render_grade_report(sheet_json: Any, *, title: str = "bookinfo-harness grade") -> str:
    sheets = _sheets(sheet_json)
    body = []
    if len(sheets) > 1:
        rows = []
        for s in sheets:
            earned, possible = _points(s.get("total"))
            rows.append((escape(str(s.get("target", ""))), f"{_num(earned)} / {_num(possible)}"))
        body.append(_table("Contestants", ("Contestant", "Total"), rows, "summary"))
    body += [_sheet_section(s, i) for i, s in enumerate(sheets)]
    rubric = next((str(s["rubric"]) for s in sheets if s.get("rubric")), "")
    return _page(title, f"rubric {rubric} · generated {time.strftime('%Y-%m-%d %H:%M:%S %Z')}", "".join(body))


def write_grade_report(sheet_json: Any, path: str | Path, **options: Any) -> Path:
    """Write score sheets as one self-contained HTML file. `sheet_json`: the `grade --json` document
    ({"format", "sheets": [...]}), one sheet dict, a list of sheets, JSON text or a path to a JSON file.
    Items need only `id`, `points` and `earned`; `title`, `status`, `reason` and `checks` (with `passed`,
    `expected`, `found`, `where`, `advice`) are shown when present."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_grade_report(sheet_json, **options), encoding="utf-8")
    return out
