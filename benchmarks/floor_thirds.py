"""The floor for an even three-way split: a lower bound on E_e[N] over every sequential test of
e = (1/3, 1/3, 1/3) that, at the same alpha, beta and delta as ours, rejects six half-spaces before a PASS.

The argument is :func:`harness.stats.two_sided_floor`'s (weak Lagrangian duality over a backward induction),
with the six boundary alternatives q(i, +-) (share i moved by +-delta, the other two sharing the rest equally)
in place of two. For any costs c >= 0 and any test T that decides within the horizon with
``P_e(FAIL) <= alpha`` and ``P_q(PASS) <= beta`` for every q,
``E_e[N_T] >= V(c) - c_fail alpha - sum_q c_q beta``, where V(c) is the least value of
``E_e[N] + c_fail P_e(FAIL) + sum_q c_q P_q(PASS)`` over all tests. V is found by backward induction on
(requests n, hits of category 1, hits of category 2): 345 million states at delta 0.1 and
alpha = beta = 1e-3. numpy walks them in about 20 seconds per choice of costs; pure Python would take minutes.
That is why numpy is a development dependency and this module lives with the benchmarks, not in the package.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from harness.stats import floor_scale

Alternative = tuple[int, int]  # (category 0, 1 or 2; direction +1 or -1)
ALL_ALTERNATIVES: tuple[Alternative, ...] = tuple((i, s) for i in range(3) for s in (1, -1))
E = 1.0 / 3.0


def _band(n: int, width: float) -> tuple[int, int]:
    """Hit counts of one category kept at step n: within `width` standard deviations of n / 3 (as
    two_sided_floor does); states outside get value 0, below their true value, so V stays a lower bound."""
    half = width * (math.sqrt(n * E * (1.0 - E)) + 1.0)
    return max(0, math.floor(E * n - half)), min(n, math.ceil(E * n + half))


def _shifted(
    later: NDArray[np.float64], later_lo: int, lo: int, size: int, d1: int, d2: int
) -> NDArray[np.float64]:
    """V_{n+1}(c1 + d1, c2 + d2) for c1, c2 in [lo, lo + size), 0 outside the band kept at n + 1."""
    out = np.zeros((size, size))
    a0, b0 = lo + d1 - later_lo, lo + d2 - later_lo
    kept = later.shape[0]
    i0, i1 = max(0, -a0), min(size, kept - a0)
    j0, j1 = max(0, -b0), min(size, kept - b0)
    if i1 > i0 and j1 > j0:
        out[i0:i1, j0:j1] = later[a0 + i0 : a0 + i1, b0 + j0 : b0 + j1]
    return out


def lagrangian_value(
    delta: float, c_fail: float, c_pass: Mapping[Alternative, float], horizon: int, width: float = 8.0
) -> float:
    """min over tests stopping by `horizon` of ``E_e[N] + c_fail P_e(FAIL) + sum_q c_pass[q] P_q(PASS)``.

    Stop-and-PASS at state (n, c) costs ``sum_q c_q L_q(n, c)`` (the likelihood ratio turns P_q into an
    E_e expectation), stop-and-FAIL costs c_fail, one more request 1 plus the mean of the three next states.
    """
    terms = []
    for (i, sign), cost in c_pass.items():
        share = E + sign * delta
        if not 0.0 < share < 1.0:
            raise ValueError(f"alternative {i}{'+' if sign > 0 else '-'} has share {share} outside (0, 1)")
        rest = (1.0 - share) / 2.0
        terms.append((i, math.log(cost), math.log(share / E), math.log(rest / E)))
    later: NDArray[np.float64] | None = None
    later_lo = 0
    for n in range(horizon, -1, -1):
        lo, hi = _band(n, width)
        size = hi - lo + 1
        hits = np.arange(lo, hi + 1, dtype=np.float64)
        first, second = np.meshgrid(hits, hits, indexing="ij")
        counts = (first, second, n - first - second)
        pass_cost = np.zeros((size, size))
        for i, log_cost, log_hit, log_miss in terms:
            exponent = log_cost + counts[i] * log_hit + (n - counts[i]) * log_miss
            pass_cost += np.exp(np.minimum(exponent, 700.0))  # beyond e^700 a FAIL is cheaper anyway
        best = np.minimum(c_fail, pass_cost)
        if later is not None:
            go_on = 1.0 + E * (
                _shifted(later, later_lo, lo, size, 1, 0)
                + _shifted(later, later_lo, lo, size, 0, 1)
                + _shifted(later, later_lo, lo, size, 0, 0)
            )
            best = np.minimum(best, go_on)
        later, later_lo = np.where(counts[2] >= 0, best, 0.0), lo  # c3 < 0 cannot occur
    assert later is not None
    return float(later[0, 0])


def thirds_floor(
    delta: float,
    alpha: float,
    beta: float,
    *,
    horizon: int | None = None,
    width: float = 8.0,
    alternatives: tuple[Alternative, ...] = ALL_ALTERNATIVES,
) -> float:
    """Lower bound on E_e[N] for tests deciding within `horizon` (default ten times Wald's one-sided E0[N]).

    The costs come from a small grid scaled by Wald's E0[N] (every choice gives a valid bound; the largest
    is returned). `alternatives` narrows the problem: with one category's two it is two_sided_floor's
    problem at p0 = 1/3, and :func:`lagrangian_value` equals harness.stats' (the tests check it).
    """
    scale, default_horizon = floor_scale(E, delta, alpha, beta)
    horizon = horizon if horizon is not None else default_horizon
    c_fail = 2.0 * scale
    bound = 0.0
    for weight in (0.05, 0.03, 0.02, 0.01):
        c_pass = {q: weight * scale / beta for q in alternatives}
        value = lagrangian_value(delta, c_fail, c_pass, horizon, width)
        bound = max(bound, value - c_fail * alpha - sum(c_pass.values()) * beta)
    return bound


if __name__ == "__main__":
    print(f"thirds, delta 0.1, alpha = beta = 1e-3: floor {thirds_floor(0.1, 1e-3, 1e-3):.1f} requests")
