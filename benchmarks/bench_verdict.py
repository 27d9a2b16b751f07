"""Requests to a verdict: the sequential test's mean and p99 sample size over seeded repetitions, next to
Wald's expected sample size, the fixed-sample test at the same alpha, beta and delta, and the floor that no
two-sided sequential test can beat on average (pure computation and simulation).

The floor of a 2-way split is :func:`harness.stats.two_sided_floor` for the larger share against its own
+-delta; the even three-way split's is :func:`benchmarks.floor_thirds.thirds_floor`, which counts all six
half-spaces a PASS must reject."""

from __future__ import annotations

import math
import random
import statistics

from benchmarks.floor_thirds import thirds_floor
from harness.stats import two_sided_floor
from harness.verdict import SequentialSplitTest, fixed_sample_size

ALPHA = BETA = 0.001
CASES = [  # name, expected split, tolerance
    ("50/50", {"v1": 0.5, "v3": 0.5}, 0.1),
    ("80/20", {"v1": 0.8, "v2": 0.2}, 0.1),
    ("90/10", {"v1": 0.9, "v2": 0.1}, 0.05),
    ("thirds", {"v1": 1 / 3, "v2": 1 / 3, "v3": 1 - 2 / 3}, 0.1),
    ("100% v3", {"v3": 1.0}, 0.1),
]


def _run(expected: dict[str, float], tolerance: float, rng: random.Random) -> int:
    test = SequentialSplitTest(expected, tolerance=tolerance, alpha=ALPHA, beta=BETA, max_requests=100_000)
    names, weights = list(expected), list(expected.values())
    while True:
        if test.observe(rng.choices(names, weights)[0]) is not None:
            return test.n


def wald_multinomial_e0(expected: dict[str, float], tolerance: float) -> float:
    """Wald's E0[N] against the harder of the two alternatives (the largest share moved by -delta or +delta,
    the others rescaled; verification-statistics.md 5.1, multinomial form). A PASS must reject both, so this
    one-sided figure is a floor no equivalence test can beat on average."""
    a, b = math.log((1 - BETA) / ALPHA), math.log(BETA / (1 - ALPHA))
    top = max(expected, key=expected.__getitem__)
    p0 = expected[top]
    best = 0.0
    for sign in (-1, 1):
        q = p0 + sign * tolerance
        if not 0 < q < 1:
            continue
        scale = (1 - q) / (1 - p0)
        alt = {k: (q if k == top else v * scale) for k, v in expected.items()}
        kl = sum(v * math.log(v / alt[k]) for k, v in expected.items() if v > 0)
        best = max(best, ((1 - ALPHA) * b + ALPHA * a) / -kl)
    return best


def main(repetitions: int = 1000) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, expected, tolerance in CASES:
        rng = random.Random(20261125)
        ns = sorted(_run(expected, tolerance, rng) for _ in range(repetitions))
        p0 = max(expected.values())
        if p0 < 1:
            wald = wald_multinomial_e0(expected, tolerance)
            fixed = float(fixed_sample_size(p0, tolerance, ALPHA, BETA))
            even_thirds = len(expected) == 3 and all(abs(v - 1 / 3) < 1e-9 for v in expected.values())
            floor = (
                thirds_floor(tolerance, ALPHA, BETA)
                if even_thirds
                else two_sided_floor(p0, tolerance, ALPHA, BETA)
            )
        else:  # 100%: the exact leak bound is the floor, ln(beta) / ln(1 - delta) leak-free pages
            wald = fixed = floor = float(math.ceil(math.log(BETA) / math.log(1 - tolerance)))
        out[name] = {
            "mean": statistics.fmean(ns),
            "p99": ns[int(0.99 * (len(ns) - 1))],
            "wald_e0": wald,
            "fixed_n": fixed,
            "floor": floor,
            "mean_over_wald": statistics.fmean(ns) / wald,
            "mean_over_floor": statistics.fmean(ns) / floor,
        }
    return out


if __name__ == "__main__":
    for name, row in main().items():
        print(name, {k: round(v, 2) for k, v in row.items()})
