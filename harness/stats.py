"""Pure-Python statistics helpers behind :mod:`harness.verdict`.

Everything here is a pure function of its arguments (no I/O, no clocks, no randomness), uses only :mod:`math`
and the standard library, and works on integer counts wherever a decision depends on the result.

Contents:

- Bernoulli Kullback-Leibler divergence and Wald's approximate expected sample sizes of an SPRT
  (verification-statistics.md section 5.1).
- The size of a fixed two-sided binomial test at the same alpha, beta and delta (exact equal-tailed binomial,
  or the normal approximation), for benchmarks that print sequential against fixed sample sizes.
- Exact binomial tails through the regularised incomplete beta function, Clopper-Pearson bounds.
- A Beta(1,1)-mixture confidence sequence (Robbins 1970): an interval that is valid at every sample size
  simultaneously, hence under any data-dependent stopping rule (Ville's inequality).
- The minimum number of requests that bounds an unseen leak: ``(1 - rate) ** n <= beta``.
- The floor under every two-sided sequential test (:func:`two_sided_floor`): what no test can beat on
  average, computed by backward induction; Wald's one-sided E0[N] is below it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from statistics import NormalDist

__all__ = [
    "binom_cdf",
    "binom_sf",
    "clopper_pearson",
    "fixed_sample_size",
    "floor_scale",
    "kl_bernoulli",
    "leak_min_requests",
    "log_or_neg_inf",
    "logsumexp",
    "mixture_confidence_sequence",
    "regularized_beta",
    "two_sided_floor",
    "wald_expected_sample_size",
]


def log_or_neg_inf(x: float) -> float:
    """``math.log`` that maps 0 to -inf instead of raising."""
    return math.log(x) if x > 0.0 else -math.inf


def logsumexp(values: Iterable[float]) -> float:
    """``log(sum(exp(v)))`` computed stably; -inf for an empty input or all -inf."""
    vals = list(values)
    if not vals:
        return -math.inf
    top = max(vals)
    if top == -math.inf or top == math.inf:
        return top
    return top + math.log(math.fsum(math.exp(v - top) for v in vals))


def kl_bernoulli(p: float, q: float) -> float:
    """KL(Bernoulli(p) || Bernoulli(q)) in nats; inf when q puts zero mass where p does not."""
    total = 0.0
    for a, b in ((p, q), (1.0 - p, 1.0 - q)):
        if a > 0.0:
            if b <= 0.0:
                return math.inf
            total += a * math.log(a / b)
    return total


def wald_expected_sample_size(p0: float, p1: float, alpha: float, beta: float) -> tuple[float, float]:
    """Wald's approximations (E0[N], E1[N]) for the Bernoulli SPRT of p0 against p1 (section 5.1).

    ``a = ln((1-beta)/alpha)``, ``b = ln(beta/(1-alpha))``;
    ``E0[N] = ((1-alpha) b + alpha a) / (-KL(p0||p1))`` and ``E1[N] = ((1-beta) a + beta b) / KL(p1||p0)``.
    Overshoot is ignored, so the true means are a few percent larger. For 0.5 vs 0.6 at 1e-3: (338, 342).
    """
    _check_open_unit("p0", p0)
    _check_open_unit("p1", p1)
    if p0 == p1:
        raise ValueError("p0 and p1 must differ")
    _check_error_rate("alpha", alpha)
    _check_error_rate("beta", beta)
    a = math.log((1.0 - beta) / alpha)
    b = math.log(beta / (1.0 - alpha))
    e0 = ((1.0 - alpha) * b + alpha * a) / (-kl_bernoulli(p0, p1))
    e1 = ((1.0 - beta) * a + beta * b) / kl_bernoulli(p1, p0)
    return e0, e1


# ---------------------------------------------------------------------------------------------------------
# Exact binomial tails


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction for the incomplete beta function (modified Lentz; Numerical Recipes 6.4)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = tiny if abs(d) < tiny else d
    d = 1.0 / d
    h = d
    for m in range(1, 100_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = tiny if abs(d) < tiny else d
        c = 1.0 + aa / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = tiny if abs(d) < tiny else d
        c = 1.0 + aa / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            return h
    raise ArithmeticError(f"incomplete beta continued fraction did not converge (a={a}, b={b}, x={x})")


def regularized_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b) for a, b > 0."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def binom_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), exact (incomplete beta), with integer k."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    return regularized_beta(k, n - k + 1, p)


def binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), exact (incomplete beta), with integer k."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return 1.0 - binom_sf(k + 1, n, p)


def _bisect_decreasing(f: object, target: float) -> float:
    """The p in [0, 1] where the decreasing function f crosses target (60 halvings: ~1e-18 precision)."""
    lo, hi = 0.0, 1.0
    fn = f
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if fn(mid) > target:  # type: ignore[operator]
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def clopper_pearson(x: int, n: int, tail: float) -> tuple[float, float]:
    """Clopper-Pearson bounds with ``tail`` probability on each side: a (1 - 2*tail) two-sided interval.

    ``lower`` is 0 when x == 0, ``upper`` is 1 when x == n; n == 0 gives (0, 1).
    """
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= x <= n:
        raise ValueError(f"count {x} outside 0..{n}")
    # P_p(X >= x) increases with p: the lower bound is where it equals tail.
    lower = 0.0 if x == 0 else 1.0 - _bisect_decreasing(lambda q: binom_sf(x, n, 1.0 - q), tail)
    upper = 1.0 if x == n else _bisect_decreasing(lambda p: binom_cdf(x, n, p), tail)
    return lower, upper


# ---------------------------------------------------------------------------------------------------------
# Anytime-valid interval


def mixture_confidence_sequence(x: int, n: int, alpha: float) -> tuple[float, float]:
    """Beta(1,1)-mixture confidence sequence for a Bernoulli rate after x successes in n trials.

    ``Lambda_n(q) = B(1 + x, 1 + n - x) / (q**x (1-q)**(n-x))`` is a nonnegative martingale under rate q
    (section 5.1, mSPRT), so by Ville's inequality ``{q : Lambda_n(q) < 1/alpha}`` covers the true rate at
    every n simultaneously with probability >= 1 - alpha: valid at any stopping time. The set is an interval
    because log Lambda_n is convex in q with its minimum at x/n.
    """
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= x <= n:
        raise ValueError(f"count {x} outside 0..{n}")
    log_b = math.lgamma(1 + x) + math.lgamma(1 + n - x) - math.lgamma(2 + n)
    threshold = math.log(1.0 / alpha)

    def log_lambda(q: float) -> float:
        return log_b - x * log_or_neg_inf(q) - (n - x) * log_or_neg_inf(1.0 - q)

    centre = x / n
    if log_lambda(centre) >= threshold:  # cannot happen for alpha < 1, kept for safety
        return centre, centre
    lo, hi = 0.0, centre
    if x > 0:
        for _ in range(46):
            mid = 0.5 * (lo + hi)
            if log_lambda(mid) >= threshold:
                lo = mid
            else:
                hi = mid
        lower = lo
    else:
        lower = 0.0
    lo, hi = centre, 1.0
    if x < n:
        for _ in range(46):
            mid = 0.5 * (lo + hi)
            if log_lambda(mid) >= threshold:
                hi = mid
            else:
                lo = mid
        upper = hi
    else:
        upper = 1.0
    return lower, upper


# ---------------------------------------------------------------------------------------------------------
# Sample sizes


def leak_min_requests(rate: float, beta: float) -> int:
    """Smallest n with ``(1 - rate) ** n <= beta``: after n requests without a single leak, a leak rate of at
    least ``rate`` is excluded with error probability <= beta (exact; 66 for rate 0.1, 688 for 0.01 at 1e-3).
    """
    _check_open_unit("rate", rate)
    _check_error_rate("beta", beta)
    n = max(1, math.ceil(math.log(beta) / math.log1p(-rate)))
    while n > 1 and (n - 1) * math.log1p(-rate) <= math.log(beta):
        n -= 1
    while n * math.log1p(-rate) > math.log(beta):
        n += 1
    return n


def _fixed_normal(p0: float, alternatives: list[float], alpha: float, beta: float) -> int:
    z_a = NormalDist().inv_cdf(1.0 - alpha / 2.0)
    z_b = NormalDist().inv_cdf(1.0 - beta)
    worst = 0.0
    for p1 in alternatives:
        root = z_a * math.sqrt(p0 * (1.0 - p0)) + z_b * math.sqrt(p1 * (1.0 - p1))
        worst = max(worst, (root / abs(p1 - p0)) ** 2)
    return math.ceil(worst)


def _fixed_exact_power_ok(n: int, p0: float, alternatives: list[float], alpha: float, beta: float) -> bool:
    half = alpha / 2.0
    # smallest c_hi with P0(X >= c_hi) <= alpha/2; largest c_lo with P0(X <= c_lo) <= alpha/2
    lo, hi = 0, n + 1
    while lo < hi:
        mid = (lo + hi) // 2
        if binom_sf(mid, n, p0) <= half:
            hi = mid
        else:
            lo = mid + 1
    c_hi = lo
    lo, hi = -1, n
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if binom_cdf(mid, n, p0) <= half:
            lo = mid
        else:
            hi = mid - 1
    c_lo = lo
    for p1 in alternatives:
        power = binom_sf(c_hi, n, p1) + binom_cdf(c_lo, n, p1)
        if power < 1.0 - beta:
            return False
    return True


def fixed_sample_size(p0: float, delta: float, alpha: float, beta: float, *, method: str = "exact") -> int:
    """Requests a fixed-n two-sided binomial test of ``p = p0`` needs at level alpha to reach power
    1 - beta against every feasible alternative ``p0 +- delta`` (alternatives outside (0, 1) are skipped).

    ``method="exact"`` (default): the smallest n whose equal-tailed exact binomial test (each tail
    <= alpha/2) has the power (section 5.2 "fixed two-sided n", e.g. 1010 for 0.5 +- 0.1 at 1e-3; the exact
    power is not monotone in n, the first n that reaches it is returned). ``method="normal"``: the normal
    approximation ``((z_{alpha/2} sqrt(p0 q0) + z_beta sqrt(p1 q1)) / delta)**2`` (998 for the same case).
    """
    _check_open_unit("p0", p0)
    _check_error_rate("alpha", alpha)
    _check_error_rate("beta", beta)
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be in (0, 1), got {delta}")
    alternatives = [p for p in (p0 - delta, p0 + delta) if 0.0 < p < 1.0]
    if not alternatives:
        raise ValueError(f"no alternative p0 +- delta inside (0, 1) for p0={p0}, delta={delta}")
    approx = _fixed_normal(p0, alternatives, alpha, beta)
    if method == "normal":
        return approx
    if method != "exact":
        raise ValueError(f"method must be 'exact' or 'normal', got {method!r}")
    n = max(1, int(approx * 0.8))
    while n > 1 and _fixed_exact_power_ok(n, p0, alternatives, alpha, beta):
        n = max(1, int(n * 0.8))
    while not _fixed_exact_power_ok(n, p0, alternatives, alpha, beta):
        n += 1
    return n


def _lagrangian_value(
    p0: float, delta: float, costs: tuple[float, float, float], horizon: int, width: float
) -> float:
    """min over tests stopping by ``horizon`` of ``E0[N] + c0 P0(FAIL) + c+ P+(PASS) + c- P-(PASS)``.

    Backward induction on (requests n, hits s) under p0: at each state stop-and-PASS costs
    ``c+ L+(n, s) + c- L-(n, s)`` (the likelihood ratios turn P+- into P0 expectations), stop-and-FAIL costs
    c0, and one more request costs 1 plus the expected value of the next state. States more than ``width``
    standard deviations from p0 n are given value 0: P0 never reaches them in practice, and 0 is below their
    true value, so the result stays a lower bound.
    """
    c0, c_up, c_down = costs
    q0 = 1.0 - p0
    up_hit, up_miss = math.log((p0 + delta) / p0), math.log((q0 - delta) / q0)
    down_hit, down_miss = math.log((p0 - delta) / p0), math.log((q0 + delta) / q0)
    log_c_up, log_c_down = math.log(c_up), math.log(c_down)
    cap = math.log(c0) + 1.0  # beyond this a PASS costs more than a FAIL: skip the exponentials
    later: list[float] = []
    later_lo, later_hi = 1, 0
    for n in range(horizon, -1, -1):
        half = width * (math.sqrt(n * p0 * q0) + 1.0)
        lo, hi = max(0, math.floor(p0 * n - half)), min(n, math.ceil(p0 * n + half))
        row = []
        for s in range(lo, hi + 1):
            log_up = log_c_up + s * up_hit + (n - s) * up_miss
            log_down = log_c_down + s * down_hit + (n - s) * down_miss
            best = c0 if log_up > cap or log_down > cap else min(c0, math.exp(log_up) + math.exp(log_down))
            if n < horizon:
                hit = later[s + 1 - later_lo] if later_lo <= s + 1 <= later_hi else 0.0
                miss = later[s - later_lo] if later_lo <= s <= later_hi else 0.0
                best = min(best, 1.0 + p0 * hit + q0 * miss)
            row.append(best)
        later, later_lo, later_hi = row, lo, hi
    return later[0]


def two_sided_floor(
    p0: float, delta: float, alpha: float, beta: float, *, horizon: int | None = None, width: float = 8.0
) -> float:
    """A lower bound on E_p0[N] for every sequential test of ``p = p0`` against ``p = p0 +- delta`` that
    decides within ``horizon`` requests (default ten times Wald's E0[N]) with ``P_p0(FAIL) <= alpha`` and
    ``P_{p0+-delta}(PASS) <= beta``.

    Weak Lagrangian duality: for any costs c >= 0 and any such test T,
    ``E0[N_T] >= V(c) - c0 alpha - (c+ + c-) beta`` where V(c) is the optimal Bayes-type value of
    :func:`_lagrangian_value`. The costs are chosen from a small grid scaled by Wald's E0[N]; every choice
    gives a valid bound and the largest is returned (each evaluation is ~1.5 s at 0.5 +- 0.1, pure Python).
    A PASS must reject both sides, so the floor exceeds Wald's one-sided E0[N]: 453 against 338 at
    0.5 +- 0.1, alpha = beta = 1e-3.
    """
    _check_open_unit("p0", p0)
    _check_error_rate("alpha", alpha)
    _check_error_rate("beta", beta)
    if not (p0 - delta > 0.0 and p0 + delta < 1.0):
        raise ValueError(f"both alternatives p0 +- delta must lie in (0, 1), got p0={p0}, delta={delta}")
    scale, default_horizon = floor_scale(p0, delta, alpha, beta)
    horizon = horizon if horizon is not None else default_horizon
    bound = 0.0
    for up, down in ((0.1, 0.1), (0.03, 0.1), (0.1, 0.03)):
        costs = (2.0 * scale, up * scale / beta, down * scale / beta)
        value = _lagrangian_value(p0, delta, costs, horizon, width)
        bound = max(bound, value - costs[0] * alpha - (costs[1] + costs[2]) * beta)
    return bound


def floor_scale(p0: float, delta: float, alpha: float, beta: float) -> tuple[float, int]:
    """(Wald's one-sided E0[N], the larger of p0 +- delta; ten times that): what a floor's Lagrangian costs
    are scaled by, and the horizon within which the tests it bounds decide."""
    scale = max(
        wald_expected_sample_size(p0, p0 + delta, alpha, beta)[0],
        wald_expected_sample_size(p0, p0 - delta, alpha, beta)[0],
    )
    return scale, math.ceil(10.0 * scale)


def _check_open_unit(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and 0.0 < value < 1.0):
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")


def _check_error_rate(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and 0.0 < value < 0.5):
        raise ValueError(f"{name} must be in (0, 0.5), got {value!r}")
