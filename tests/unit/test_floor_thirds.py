"""The three-way floor (benchmarks/floor_thirds.py), checked against the package's own two-way floor."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from benchmarks.floor_thirds import lagrangian_value, thirds_floor
from harness.stats import _lagrangian_value, two_sided_floor
from harness.verdict import SequentialSplitTest

THIRDS = {"v1": 1 / 3, "v2": 1 / 3, "v3": 1 - 2 / 3}


@pytest.mark.parametrize(
    ("delta", "horizon", "c_fail", "c_up", "c_down"),
    [(0.2, 300, 100.0, 500.0, 300.0), (0.2, 300, 50.0, 2_000.0, 2_000.0), (0.15, 400, 200.0, 1e4, 3e3)],
)
def test_with_one_categorys_alternatives_it_is_the_two_way_induction(
    delta: float, horizon: int, c_fail: float, c_up: float, c_down: float
) -> None:
    # Those two alternatives rescale the other shares alike, so the hits of category 1 are sufficient and the
    # 3-way induction must give the value of harness.stats' independent 2-way one at p0 = 1/3.
    three_way = lagrangian_value(delta, c_fail, {(0, 1): c_up, (0, -1): c_down}, horizon)
    two_way = _lagrangian_value(1 / 3, delta, (c_fail, c_up, c_down), horizon, 8.0)
    assert three_way == pytest.approx(two_way, rel=1e-9)


def _mean_requests(tolerance: float, alpha: float, beta: float, runs: int, seed: int) -> float:
    rng = random.Random(seed)
    names = list(THIRDS)
    total = 0
    for _ in range(runs):
        test = SequentialSplitTest(THIRDS, tolerance=tolerance, alpha=alpha, beta=beta, max_requests=100_000)
        while test.observe(rng.choice(names)) is None:
            pass
        total += test.n
    return total / runs


def test_the_three_way_floor_lies_between_one_categorys_floor_and_the_sequential_test() -> None:
    # Rejecting six half-spaces costs more than rejecting one category's two; our test is a valid test, so its
    # mean (seeded, 1,000 runs) cannot be below the floor of all tests.
    floor = thirds_floor(0.2, 0.01, 0.01)
    one_category = two_sided_floor(1 / 3, 0.2, 0.01, 0.01)
    mean = _mean_requests(0.2, 0.01, 0.01, runs=1000, seed=11)
    assert one_category < floor < mean
    assert floor > thirds_floor(0.2, 0.05, 0.05)  # stricter error rates cost requests


def test_an_alternative_outside_the_simplex_is_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        lagrangian_value(0.4, 10.0, {(1, -1): 10.0}, 50)


def test_the_package_never_needs_numpy() -> None:
    # numpy is a development dependency: an installed bookinfo-harness must run without it
    package = Path(__file__).resolve().parents[2] / "harness"
    users = [p.name for p in package.rglob("*.py") if "numpy" in p.read_text(encoding="utf-8")]
    assert users == []
