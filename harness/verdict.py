"""PASS / FAIL / INCONCLUSIVE for "does the mesh route with the configured split", at declared error rates.

The sequential test (:class:`SequentialSplitTest`) takes one classified request at a time and stops the
moment the evidence suffices. Its guarantees are exact inequalities (Ville's inequality for nonnegative
supermartingales), not Wald's approximations, and they hold under the sequential stopping itself, under the
budget cap and under any data-dependent decision to stop feeding it:

- alpha: P(FAIL) <= alpha when the true split equals ``expected`` exactly.
- beta: P(PASS) <= beta when some category's true share deviates from its expected share by >= delta
  (``tolerance``), or when a category expected at 0 (including any category not named in ``expected``) is
  hit at a rate >= ``leak_tolerance``.
- Between the two (0 < max deviation < delta) is the indifference zone: either verdict may come, or the
  budget runs out and the verdict is INCONCLUSIVE.

Design (verification-statistics.md section 5.1 and goals 5, 6, 7, 11):

- FAIL is a mixture SPRT: ``M_n = sum_c w_c prod_t q_c(x_t) / e(x_t)`` over alternative splits q_c with
  sum w_c = 1 is a martingale under the expected split e, so ``P_e(sup_n M_n >= 1/alpha) <= alpha``. For each
  category i with 0 < e_i < 1 and each direction, the alternatives set ``q_i = e_i +- m`` and rescale the
  other categories proportionally (the KL-closest split with that q_i; its multinomial likelihood ratio is
  the binary one of "i or not i"), for m = delta, 2 delta, 4 delta, ... (weight 1 - RHO on delta, RHO on the
  larger ones, so gross errors fail fast). Identical alternatives (e.g. v1 + delta = v3 - delta in a 2-way
  split) are merged. One joint test for any k: one overall alpha, no per-category bands, no Bonferroni.
- PASS needs every "bad" half-space ``p_i >= e_i + delta`` and ``p_i <= e_i - delta`` rejected. For each one,
  the likelihood ratio of e_i against the boundary ``e_i +- delta`` (on "i or not i", i.e. Wald's SPRT
  statistic) is a nonnegative supermartingale under every p in the half-space, so the probability that it
  ever reaches 1/beta is <= beta; a half-space stays rejected from its first crossing on. PASS needs all of
  them, and every point of the deviation region lies in one specific half-space, so P(PASS) <= beta overall
  without splitting beta. The time to PASS is the largest of the first-crossing times, which is why it
  exceeds the one-sided Wald E0[N] (about 1.4x at 50/50, delta 0.1, 1e-3).
- Shares of 0 are exact: a category expected at 0 never occurs under the expected split, so one occurrence
  is a FAIL with error probability 0 <= alpha. PASS also needs ``(1 - leak_tolerance) ** n <= beta`` (66
  requests for 0.1 at beta 1e-3), which bounds every zero category and their sum (any category outside
  ``expected`` is one). A single category at 1.0 is "all": it passes after exactly that many leak-free
  requests.
- Decisions come from integer counts (the log-likelihood sums are linear in them) and exact binomial
  tails; no observed ratio is compared with a band edge.

The reported intervals are Beta(1,1)-mixture confidence sequences (anytime-valid; joint over the reported
categories by Bonferroni, level 1 - alpha). :func:`decide_counts` is the fixed-sample variant for counts that
arrive in one piece (mirror accounting); it uses exact binomial tests and Clopper-Pearson intervals.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from harness.stats import (
    binom_cdf,
    binom_sf,
    clopper_pearson,
    fixed_sample_size,
    leak_min_requests,
    log_or_neg_inf,
    logsumexp,
    mixture_confidence_sequence,
    wald_expected_sample_size,
)

__all__ = [
    "RHO",
    "SequentialSplitTest",
    "Status",
    "Verdict",
    "decide_counts",
    "fixed_sample_size",
    "parse_expect",
    "verify_stream",
    "wald_expected_sample_size",
]

RHO = 0.25
"""Mixture weight on alternatives beyond delta (2 delta, 4 delta, ...): costs ln(1/(1-RHO)) ~ 0.29 nats
(about 14 requests at 0.5 vs 0.6) and roughly halves the time to FAIL for deviations of 2-3 delta."""

SEQUENTIAL_METHOD = "mixture-SPRT"
FIXED_METHOD = "fixed-Clopper-Pearson"
_EPS = 1e-12
_BIG = 1e300


class Status(StrEnum):
    """The outcome of a split verification."""

    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"


@dataclass(frozen=True)
class Verdict:
    """A decision with the evidence behind it; every field appears verbatim in :meth:`to_json`."""

    status: Status
    n: int  # requests used
    counts: dict[str, int]
    shares: dict[str, float]  # counts / n, for reporting only (decisions never compare these)
    expected: dict[str, float]  # includes every observed category outside the expectation, at 0.0
    intervals: dict[str, tuple[float, float]]  # joint (1 - alpha) intervals, see ``method``
    alpha: float
    beta: float
    tolerance: float
    method: str
    reason: str
    leak_tolerance: float | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "status": self.status.value,
            "n": self.n,
            "counts": dict(self.counts),
            "shares": dict(self.shares),
            "expected": dict(self.expected),
            "intervals": {k: [lo, hi] for k, (lo, hi) in self.intervals.items()},
            "alpha": self.alpha,
            "beta": self.beta,
            "tolerance": self.tolerance,
            "leak_tolerance": self.leak_tolerance,
            "method": self.method,
            "reason": self.reason,
        }


# ---------------------------------------------------------------------------------------------------------
# Validation and formatting


def _validate_expected(expected: Mapping[str, float], *, slack: float = 1e-9) -> dict[str, float]:
    if not expected:
        raise ValueError("expected split is empty")
    out: dict[str, float] = {}
    for name, share in expected.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"category names must be non-empty strings, got {name!r}")
        value = float(share)
        if not math.isfinite(value) or value < 0.0:
            raise ValueError(f"share of {name!r} must be a finite number >= 0, got {share!r}")
        out[name] = value
    total = math.fsum(out.values())
    if abs(total - 1.0) > slack:
        raise ValueError(f"expected shares must sum to 1, got {total:.12g}")
    return out


def _validate_rates(tolerance: float, alpha: float, beta: float, leak_tolerance: float | None) -> float:
    if not 0.0 < tolerance < 1.0:
        raise ValueError(f"tolerance must be in (0, 1), got {tolerance!r}")
    for name, value in (("alpha", alpha), ("beta", beta)):
        if not 0.0 < value < 0.5:
            raise ValueError(f"{name} must be in (0, 0.5), got {value!r}")
    leak = tolerance if leak_tolerance is None else leak_tolerance
    if not 0.0 < leak <= tolerance:
        raise ValueError(f"leak_tolerance must be in (0, tolerance={tolerance}], got {leak!r}")
    return leak


def _fmt(x: float) -> str:
    return f"{x:.3f}"


def _share_text(name: str, count: int, n: int, expected: float) -> str:
    share = count / n if n else 0.0
    return f"{name} at {count}/{n} = {_fmt(share)} (expected {_fmt(expected)})"


def _rates_text(alpha: float, beta: float) -> str:
    return f"alpha={alpha:g}, beta={beta:g}"


# ---------------------------------------------------------------------------------------------------------
# Sequential test


class SequentialSplitTest:
    """Sequential k-way split test; see the module docstring for the design and the guarantees.

    ``expected`` maps category to share (sum 1 within 1e-9); 0 means "must not occur", a single 1.0 means
    "all". ``leak_tolerance`` (default: ``tolerance``) is the smallest leak rate into zero categories that a
    PASS excludes with probability >= 1 - beta; it must not exceed ``tolerance``. Use 0.01 for header-match
    routing (688 requests at beta 1e-3).
    """

    def __init__(
        self,
        expected: Mapping[str, float],
        *,
        tolerance: float = 0.1,
        alpha: float = 0.001,
        beta: float = 0.001,
        max_requests: int = 5000,
        leak_tolerance: float | None = None,
    ) -> None:
        self.expected = _validate_expected(expected)
        self.leak_tolerance = _validate_rates(tolerance, alpha, beta, leak_tolerance)
        if isinstance(max_requests, bool) or not isinstance(max_requests, int) or max_requests < 1:
            raise ValueError(f"max_requests must be a positive integer, got {max_requests!r}")
        self.tolerance = float(tolerance)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.max_requests = max_requests
        self.min_pass_requests = leak_min_requests(self.leak_tolerance, self.beta)

        self._names = list(self.expected)
        self._index = {name: i for i, name in enumerate(self._names)}
        shares = [self.expected[name] for name in self._names]
        self._zero = [s <= _EPS for s in shares]
        inner = [i for i, s in enumerate(shares) if _EPS < s < 1.0 - _EPS]  # 0 < e_i < 1
        k = len(shares)

        # FAIL mixture: alternatives q_c with weights w_c; inc[j][c] = ln(q_c[j] / e[j]).
        directions: list[list[tuple[float, list[float]]]] = []  # per direction: [(magnitude weight, q)]
        for i in inner:
            for sign in (1.0, -1.0):
                mags = []
                m = self.tolerance
                while True:
                    qi = shares[i] + sign * m
                    if qi < -_EPS or qi > 1.0 + _EPS:
                        break
                    mags.append(min(1.0, max(0.0, qi)))
                    m *= 2.0
                if not mags:
                    continue
                weights = [1.0] if len(mags) == 1 else [1.0 - RHO] + [RHO / (len(mags) - 1)] * (len(mags) - 1)
                entries = []
                for w, qi in zip(weights, mags, strict=True):
                    scale = (1.0 - qi) / (1.0 - shares[i])
                    q = [qi if j == i else shares[j] * scale for j in range(k)]
                    entries.append((w, q))
                directions.append(entries)
        merged: dict[tuple[float, ...], list[object]] = {}
        for entries in directions:
            for w, q in entries:
                key = tuple(round(v, 12) for v in q)
                if key in merged:
                    merged[key][0] = float(merged[key][0]) + w / len(directions)  # type: ignore[arg-type]
                else:
                    merged[key] = [w / len(directions), q]
        self._fail_log_w = [math.log(float(w)) for w, _ in merged.values()]  # type: ignore[arg-type]
        fail_q: list[list[float]] = [q for _, q in merged.values()]  # type: ignore[misc]
        self._fail_inc = [
            [log_or_neg_inf(q[j]) - math.log(shares[j]) if not self._zero[j] else 0.0 for q in fail_q]
            for j in range(k)
        ]
        self._fail_threshold = math.log(1.0 / self.alpha)
        self._fail_slack = math.log(len(fail_q)) if fail_q else 0.0
        # the largest one-request increase of log M (a weighted sum of ratios rises at most like the largest)
        rises = [inc for row in self._fail_inc for inc in row if inc > 0.0]
        self._fail_step = max(rises, default=1.0)

        # PASS sides: ln LR of e_i against the boundary e_i +- delta on "i or not i"; need >= ln(1/beta).
        sides: dict[tuple[float, ...], tuple[int, float]] = {}
        for i in inner:
            for sign in (1.0, -1.0):
                qi = shares[i] + sign * self.tolerance
                if qi < -_EPS or qi > 1.0 + _EPS:
                    continue  # half-space lies outside the simplex: nothing to reject
                qi = min(1.0, max(0.0, qi))
                hit = math.log(shares[i]) - log_or_neg_inf(qi)
                miss = math.log(1.0 - shares[i]) - log_or_neg_inf(1.0 - qi)
                vec = tuple(round(hit if j == i else miss, 12) for j in range(k))
                sides.setdefault(vec, (i, sign))
        self._side_labels = list(sides.values())
        self._side_inc = [[vec[j] for vec in sides] for j in range(k)]
        self._pass_threshold = math.log(1.0 / self.beta)
        self._side_step = [max(row[s] for row in self._side_inc) for s in range(len(self._side_labels))]
        # per-statistic rows over categories, infinities replaced by +-1e300 so that 0 * row[j] == 0
        self._fail_rows = [
            tuple(max(-_BIG, min(_BIG, self._fail_inc[j][c])) for j in range(k)) for c in range(len(fail_q))
        ]
        self._side_rows = [
            tuple(max(-_BIG, min(_BIG, self._side_inc[j][s])) for j in range(k))
            for s in range(len(self._side_labels))
        ]

        self._n = 0
        self._counts = [0] * k
        self._extra: dict[str, int] = {}
        self._fail_state = list(self._fail_log_w)
        self._side_state = [0.0] * len(self._side_labels)
        self._next_check = 1
        # n at which each half-space was first rejected (0 = not yet)
        self._side_rejected = [0] * len(self._side_labels)
        self._leak: str | None = None
        self._verdict: Verdict | None = None

    # -- feeding -------------------------------------------------------------------------------------------

    @property
    def n(self) -> int:
        return self._n

    @property
    def decided(self) -> bool:
        return self._verdict is not None

    def observe(self, category: str) -> Verdict | None:
        """Count one classified request; return the verdict when this request decides (and ever after)."""
        if self._verdict is not None:
            return self._verdict
        self._n += 1
        j = self._index.get(category)
        if j is None or self._zero[j]:
            name = str(category)
            if j is None:
                self._extra[name] = self._extra.get(name, 0) + 1
            else:
                self._counts[j] += 1
            self._leak = name
            self._verdict = self._make(Status.FAIL)
            return self._verdict
        self._counts[j] += 1
        if self._n < self._next_check:
            return None
        return self._check()

    def _check(self) -> Verdict | None:
        """Evaluate both boundaries from the integer counts, and schedule the next evaluation.

        Every statistic is a linear function of the counts, and one request moves it by at most a known
        increment, so the next n at which a boundary could first be crossed is computable: evaluating only
        then gives exactly the same stopping time as evaluating after every request.
        """
        n = self._n
        counts = self._counts
        steps = self.max_requests - n
        if self._fail_log_w:
            state = [
                w + sum(map(operator.mul, counts, row))
                for w, row in zip(self._fail_log_w, self._fail_rows, strict=True)
            ]
            self._fail_state = state
            # log M <= max + ln(#components): the exact log-sum-exp is needed only near the boundary
            upper = max(state) + self._fail_slack
            if upper >= self._fail_threshold:
                upper = logsumexp(state)
                if upper >= self._fail_threshold:
                    self._verdict = self._make(Status.FAIL)
                    return self._verdict
            steps = min(steps, max(1, int((self._fail_threshold - upper) / self._fail_step)))
        pass_steps = 0
        if self._side_labels:
            rejected = self._side_rejected
            for s, row in enumerate(self._side_rows):
                if rejected[s]:
                    continue
                value = sum(map(operator.mul, counts, row))
                self._side_state[s] = value
                step = self._side_step[s]
                lag = self._pass_threshold - value
                if lag <= 0.0:
                    rejected[s] = n  # first crossing: this half-space stays rejected (Ville: P <= beta)
                    continue
                ahead = 1 if step >= _BIG else max(1, int(lag / step))
                steps = min(steps, ahead)  # check again no later than its earliest possible first crossing
                pass_steps = max(pass_steps, ahead)
        pass_steps = max(pass_steps, self.min_pass_requests - n)
        if pass_steps <= 0:
            self._verdict = self._make(Status.PASS)
            return self._verdict
        if n >= self.max_requests:
            self._verdict = self._make(Status.INCONCLUSIVE)
            return self._verdict
        self._next_check = n + min(steps, pass_steps)
        return None

    def observe_many(self, categories: Iterable[str]) -> Verdict | None:
        """Feed categories in order until the test decides; return that verdict, or None if undecided."""
        for category in categories:
            verdict = self.observe(category)
            if verdict is not None:
                return verdict
        return self._verdict

    def verdict(self) -> Verdict:
        """The decision if there is one, else the current INCONCLUSIVE state with its evidence."""
        if self._verdict is not None:
            return self._verdict
        return self._make(Status.INCONCLUSIVE)

    # -- reporting -----------------------------------------------------------------------------------------

    def _count_map(self) -> dict[str, int]:
        counts = {name: self._counts[i] for i, name in enumerate(self._names)}
        counts.update(self._extra)
        return counts

    def _make(self, status: Status) -> Verdict:
        n = self._n
        counts = self._count_map()
        expected = {name: self.expected.get(name, 0.0) for name in counts}
        shares = {name: (c / n if n else 0.0) for name, c in counts.items()}
        per = self.alpha / len(counts)
        intervals = {name: mixture_confidence_sequence(c, n, per) for name, c in counts.items()}
        reason = self._reason(status, counts, expected)
        method = (
            f"{SEQUENTIAL_METHOD}: FAIL when the mixture likelihood ratio of deviations >= delta reaches"
            " 1/alpha; PASS when every half-space |p_i - e_i| >= delta is rejected at 1/beta and"
            f" n >= {self.min_pass_requests} without leaks; intervals: Beta(1,1)-mixture confidence sequences"
            " (anytime-valid, joint 1 - alpha)"
        )
        return Verdict(
            status=status,
            n=n,
            counts=counts,
            shares=shares,
            expected=expected,
            intervals=intervals,
            alpha=self.alpha,
            beta=self.beta,
            tolerance=self.tolerance,
            method=method,
            reason=reason,
            leak_tolerance=self.leak_tolerance,
        )

    def _largest_deviation(self, counts: Mapping[str, int], expected: Mapping[str, float]) -> str:
        n = self._n
        if n == 0:
            return "no requests yet"
        # integer comparison of |c*D - e*n*D| through Fractions: exact, no float band-edge comparisons
        best = max(
            counts,
            key=lambda name: abs(Fraction(counts[name]) - Fraction(expected[name]) * n),
        )
        return _share_text(best, counts[best], n, expected[best])

    def _reason(self, status: Status, counts: Mapping[str, int], expected: Mapping[str, float]) -> str:
        n = self._n
        rates = _rates_text(self.alpha, self.beta)
        if status is Status.FAIL and self._leak is not None:
            name = self._leak
            return (
                f"{name!r} occurred {counts[name]} time(s) in {n} requests but is expected at 0"
                " (must not occur): impossible under the expected split, so FAIL with error probability 0"
            )
        if status is Status.FAIL:
            return (
                f"{self._largest_deviation(counts, expected)}: the likelihood ratio for a deviation of at"
                f" least {self.tolerance:g} reached 1/alpha ({rates})"
            )
        if status is Status.PASS:
            if self._side_state:
                last = max(range(len(self._side_rejected)), key=self._side_rejected.__getitem__)
                i, _sign = self._side_labels[last]
                name = self._names[i]
                closest = f"; closest to the edge: {_share_text(name, counts[name], n, expected[name])}"
            else:
                closest = ""
            return (
                f"every share within +-{self.tolerance:g} of expected after {n} requests ({rates}),"
                f" no leak in {n} >= {self.min_pass_requests} requests (leak rate < {self.leak_tolerance:g})"
                f"{closest}"
            )
        if n >= self.max_requests and n < self.min_pass_requests:
            return (
                f"budget of {n} requests spent: a PASS needs at least {self.min_pass_requests} to exclude a"
                f" leak rate of {self.leak_tolerance:g} at beta={self.beta:g};"
                f" {self._largest_deviation(counts, expected)}"
            )
        if n >= self.max_requests:
            return (
                f"budget spent inside the indifference zone: after {n} requests"
                f" {self._largest_deviation(counts, expected)} is neither shown within +-{self.tolerance:g}"
                f" nor shown off by >= {self.tolerance:g} ({rates})"
            )
        return f"undecided after {n} requests: {self._largest_deviation(counts, expected)}"


# ---------------------------------------------------------------------------------------------------------
# Fixed-sample decision


def decide_counts(
    counts: Mapping[str, int],
    expected: Mapping[str, float],
    *,
    tolerance: float = 0.1,
    alpha: float = 0.001,
    beta: float = 0.001,
    leak_tolerance: float | None = None,
    zero_means_zero: bool = False,
) -> Verdict:
    """Fixed-sample equivalence decision from final counts (e.g. mirror accounting from metric deltas).

    Each category i (every key of ``expected`` and of ``counts``; absent from ``expected`` means 0) has the
    band ``e_i +- h_i`` with h_i = ``tolerance``, or ``leak_tolerance`` (default ``tolerance``) when e_i = 0.
    With n the total and x_i the count, using exact binomial tails on the integer counts:

    - FAIL if some category's joint (1 - alpha) Clopper-Pearson interval (each tail alpha / (2 m), m = number
      of categories) lies entirely outside its band: P(FAIL) <= alpha whenever every share is inside its band,
      in particular at the expected split.
    - PASS if every category's one-sided (1 - beta) bounds lie strictly inside its band (exact binomial
      tests of ``p_i >= e_i + h_i`` and ``p_i <= e_i - h_i`` at level beta; for a zero category with no count
      this is ``(1 - h) ** n <= beta``): P(PASS) <= beta when some share is outside its band.
    - INCONCLUSIVE otherwise, and for n == 0.

    ``zero_means_zero=True`` applies the sequential test's exact rule instead: any count in a zero category
    is a FAIL (error probability 0 under the expected split). The default tolerates a few stray counts (e.g.
    metric deltas scraped a moment apart) as long as the zero category's share is shown below its band.
    """
    exp = _validate_expected(expected)
    leak_tol = _validate_rates(tolerance, alpha, beta, leak_tolerance)
    clean: dict[str, int] = {}
    for name, c in counts.items():
        if isinstance(c, bool) or not isinstance(c, int) or c < 0:
            raise ValueError(f"count of {name!r} must be a non-negative integer, got {c!r}")
        clean[name] = c
    all_counts = {name: clean.get(name, 0) for name in exp}
    for name, c in clean.items():
        all_counts.setdefault(name, c)
    n = sum(all_counts.values())
    expected_all = {name: exp.get(name, 0.0) for name in all_counts}
    half = {name: (leak_tol if e <= _EPS else tolerance) for name, e in expected_all.items()}
    tail = alpha / (2 * len(all_counts))
    intervals = {name: clopper_pearson(c, n, tail) for name, c in all_counts.items()}
    shares = {name: (c / n if n else 0.0) for name, c in all_counts.items()}
    method = (
        f"{FIXED_METHOD}: FAIL when a joint (1 - alpha) interval lies outside its band"
        f"{' or a zero category occurs' if zero_means_zero else ''}; PASS when one-sided (1 - beta) bounds"
        " lie inside every band (+-delta, or [0, leak_tolerance) for zero categories); intervals:"
        " Clopper-Pearson, joint 1 - alpha"
    )
    rates = _rates_text(alpha, beta)

    def verdict(status: Status, reason: str) -> Verdict:
        return Verdict(
            status=status,
            n=n,
            counts=all_counts,
            shares=shares,
            expected=expected_all,
            intervals=intervals,
            alpha=alpha,
            beta=beta,
            tolerance=tolerance,
            method=method,
            reason=reason,
            leak_tolerance=leak_tol,
        )

    if n == 0:
        return verdict(Status.INCONCLUSIVE, "no requests were counted (n = 0): nothing to decide")
    if zero_means_zero:
        for name, c in all_counts.items():
            if c > 0 and expected_all[name] <= _EPS:
                return verdict(
                    Status.FAIL,
                    f"{name!r} was counted {c} time(s) in {n} but is expected at 0 (must not occur)",
                )
    for name, x in all_counts.items():
        e, h = expected_all[name], half[name]
        hi_edge, lo_edge = e + h, e - h
        if hi_edge <= 1.0 and binom_sf(x, n, hi_edge) <= tail:
            return verdict(
                Status.FAIL,
                f"{_share_text(name, x, n, e)}: its joint {1 - alpha:g} interval lies at or above"
                f" {_fmt(hi_edge)} ({rates})",
            )
        if lo_edge >= 0.0 and binom_cdf(x, n, lo_edge) <= tail:
            return verdict(
                Status.FAIL,
                f"{_share_text(name, x, n, e)}: its joint {1 - alpha:g} interval lies at or below"
                f" {_fmt(lo_edge)} ({rates})",
            )
    undecided: list[str] = []
    for name, x in all_counts.items():
        e, h = expected_all[name], half[name]
        hi_edge, lo_edge = e + h, e - h
        ok_hi = hi_edge > 1.0 or binom_cdf(x, n, hi_edge) <= beta
        ok_lo = lo_edge < 0.0 or binom_sf(x, n, lo_edge) <= beta
        if not (ok_hi and ok_lo):
            undecided.append(name)
    if not undecided:
        return verdict(
            Status.PASS,
            f"every share within +-{tolerance:g} of expected (zero categories below {leak_tol:g})"
            f" in {n} requests ({rates})",
        )
    name = undecided[0]
    shown = _share_text(name, all_counts[name], n, expected_all[name])
    return verdict(
        Status.INCONCLUSIVE,
        f"{shown} is neither shown within nor beyond +-{half[name]:g} after {n} requests ({rates})",
    )


# ---------------------------------------------------------------------------------------------------------
# Streams and parsing


def _lookup(record: Mapping[str, object], key: str, line: int) -> str:
    value: object = record
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise ValueError(f"record {line} has no {key!r}")
        value = value[part]
    if value is None:
        return "none"
    return str(value)


def verify_stream(
    records: Iterable[Mapping[str, object]],
    *,
    key: str = "version",
    expected: Mapping[str, float],
    tolerance: float = 0.1,
    alpha: float = 0.001,
    beta: float = 0.001,
    max_requests: int = 5000,
    leak_tolerance: float | None = None,
) -> tuple[Verdict, int]:
    """Feed each record's ``key`` (dotted for nested mappings, e.g. ``outcome.version``) to a
    :class:`SequentialSplitTest`; stop at the first decision. Returns (verdict, records used)."""
    test = SequentialSplitTest(
        expected,
        tolerance=tolerance,
        alpha=alpha,
        beta=beta,
        max_requests=max_requests,
        leak_tolerance=leak_tolerance,
    )
    used = 0
    for record in records:
        used += 1
        verdict = test.observe(_lookup(record, key, used))
        if verdict is not None:
            return verdict, used
    return test.verdict(), used


def parse_expect(text: str) -> dict[str, float]:
    """Parse ``"v1=0.5,v3=0.5"`` into ``{"v1": 0.5, "v3": 0.5}``.

    Values are fractions ("0.5", "1/3") or percentages: either every value ends in "%" or the plain values
    sum to 100 ("v1=50,v3=50"). Shares must be non-negative and sum to 1 (100 %) within 1e-6; they are then
    normalised to sum to 1 exactly enough for :class:`SequentialSplitTest`. Raises ValueError naming the
    problem (and the sum, when that is it).
    """
    if not text or not text.strip():
        raise ValueError("empty expectation: use e.g. v1=0.5,v3=0.5")
    items: list[tuple[str, Fraction, bool]] = []
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            raise ValueError(f"empty item in {text!r}")
        name, sep, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise ValueError(f"item {part!r} is not NAME=SHARE")
        if any(existing == name for existing, _, _ in items):
            raise ValueError(f"category {name!r} appears twice")
        percent = value.endswith("%")
        if percent:
            value = value[:-1].strip()
        try:
            share = Fraction(value)
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"share of {name!r} is not a number: {value!r}") from None
        if share < 0:
            raise ValueError(f"share of {name!r} is negative: {value}")
        items.append((name, share, percent))
    flags = {p for _, _, p in items}
    if len(flags) > 1:
        raise ValueError("mix of percentages and fractions: use '%' on every value or on none")
    total = sum((s for _, s, _ in items), Fraction(0))
    if flags == {True}:
        scale = Fraction(100)
    elif abs(total - 1) <= Fraction(1, 10**6):
        scale = Fraction(1)
    elif abs(total - 100) <= Fraction(1, 10**4):
        scale = Fraction(100)
    else:
        raise ValueError(f"shares must sum to 1 (or 100 for percentages), got {float(total):.9g}")
    if abs(total / scale - 1) > Fraction(1, 10**6):
        raise ValueError(f"percentages must sum to 100, got {float(total):.9g}")
    if total == 0:
        raise ValueError("shares sum to 0")
    return {name: float(share / total) for name, share, _ in items}
