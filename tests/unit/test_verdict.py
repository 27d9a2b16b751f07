"""Behaviour of harness.verdict and harness.stats: deterministic, table-driven.

Streams are either fixed sequences or draws from ``random.Random(seed)``; with a fixed seed every test is
deterministic. Where a test would be random for a fresh seed, a comment bounds its failure probability.
"""

from __future__ import annotations

import itertools
import json
import math
import random

import pytest

from harness.probetests import all_decided, build_probe_tests, observe_page
from harness.stats import (
    binom_cdf,
    binom_sf,
    clopper_pearson,
    fixed_sample_size,
    leak_min_requests,
    mixture_confidence_sequence,
    two_sided_floor,
    wald_expected_sample_size,
)
from harness.verdict import (
    SequentialSplitTest,
    Status,
    Verdict,
    decide_counts,
    parse_expect,
    verify_stream,
)

HALF = {"v1": 0.5, "v3": 0.5}


def draws(split: dict[str, float], seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    names, weights = list(split), list(split.values())
    return rng.choices(names, weights=weights, k=count)


def interleaved(split: dict[str, int], rounds: int) -> list[str]:
    """An exact split: per round, each category appears its integer weight times."""
    one_round = [name for name, w in split.items() for _ in range(w)]
    return one_round * rounds


# ---------------------------------------------------------------------------------------------------------
# Sequential test


@pytest.mark.parametrize(
    ("expected", "pattern", "rounds"),
    [
        (HALF, {"v1": 1, "v3": 1}, 3000),
        ({"v1": 0.8, "v2": 0.2}, {"v1": 4, "v2": 1}, 1000),
        ({"v1": 1 / 3, "v2": 1 / 3, "v3": 1 / 3}, {"v1": 1, "v2": 1, "v3": 1}, 2000),
        ({"v1": 0.5, "v2": 0.25, "v3": 0.25}, {"v1": 2, "v2": 1, "v3": 1}, 1000),
    ],
)
def test_exact_split_stream_passes(expected: dict[str, float], pattern: dict[str, int], rounds: int) -> None:
    test = SequentialSplitTest(expected)
    verdict = test.observe_many(interleaved(pattern, rounds))
    assert verdict is not None
    assert verdict.status is Status.PASS, verdict.reason
    assert test.min_pass_requests <= verdict.n < 2000
    assert "within +-0.1" in verdict.reason


def test_obvious_deviation_fails_fast() -> None:
    # An exact 80/20 stream against 50/50 (deterministic): decides in well under 100 requests.
    test = SequentialSplitTest(HALF)
    verdict = test.observe_many(interleaved({"v1": 4, "v3": 1}, 1000))
    assert verdict is not None and verdict.status is Status.FAIL
    assert verdict.n < 60
    assert verdict.reason.startswith("v1 at ") and "expected 0.500" in verdict.reason


def test_obvious_deviation_fails_fast_random() -> None:
    # Random 80/20 draws. For a fresh seed: the mixture contains the alternative (0.6, 0.4) with weight
    # 2 * 0.25 * 0.75 = 0.375, so FAIL has come by n = 250 unless S ln 1.2 + (250 - S) ln 0.8 < ln(1/(0.375
    # alpha)) = 7.89, i.e. S <= 157 (share <= 0.632). Chernoff: P <= exp(-250 KL(0.632 || 0.8)) = 6e-9.
    test = SequentialSplitTest(HALF)
    verdict = test.observe_many(draws({"v1": 0.8, "v3": 0.2}, seed=11, count=5000))
    assert verdict is not None and verdict.status is Status.FAIL
    assert verdict.n <= 250


def test_all_one_category_fails_at_once_against_half() -> None:
    test = SequentialSplitTest(HALF)
    verdict = test.observe_many(["v1"] * 100)
    assert verdict is not None and verdict.status is Status.FAIL
    # the alternative (0.9, 0.1) has weight 2 * 0.25 * 0.25 / 2: n ln 1.8 >= ln(16 / alpha) at n = 17
    assert verdict.n <= 25
    assert "v1 at" in verdict.reason


@pytest.mark.parametrize(
    ("expected", "stream", "leak", "at"),
    [
        (HALF, ["v1", "v3", "v1", "v2"], "v2", 4),  # unnamed category
        ({"v1": 0.5, "v2": 0.0, "v3": 0.5}, ["v3", "v2"], "v2", 2),  # named zero category
        ({"v3": 1.0}, ["v3"] * 10 + ["v1"], "v1", 11),
        ({"v3": 1.0}, ["unknown"], "unknown", 1),
    ],
)
def test_single_leak_fails(expected: dict[str, float], stream: list[str], leak: str, at: int) -> None:
    test = SequentialSplitTest(expected)
    verdict = test.observe_many(stream)
    assert verdict is not None and verdict.status is Status.FAIL
    assert verdict.n == at
    assert verdict.counts[leak] == 1
    assert verdict.expected[leak] == 0.0
    assert repr(leak) in verdict.reason and "expected at 0" in verdict.reason


@pytest.mark.parametrize(
    ("tolerance", "leak_tolerance", "beta", "minimum"),
    [(0.1, None, 0.001, 66), (0.1, 0.01, 0.001, 688), (0.05, None, 0.05, 59), (0.2, None, 0.001, 31)],
)
def test_all_means_all_passes_after_documented_minimum(
    tolerance: float, leak_tolerance: float | None, beta: float, minimum: int
) -> None:
    # minimum = ceil(ln beta / ln(1 - leak_tolerance)): (1 - 0.1)**66 = 9.6e-4 <= 1e-3 < 0.9**65
    assert leak_min_requests(leak_tolerance or tolerance, beta) == minimum
    assert (
        (1 - (leak_tolerance or tolerance)) ** minimum
        <= beta
        < (1 - (leak_tolerance or tolerance)) ** (minimum - 1)
    )
    test = SequentialSplitTest({"v3": 1.0}, tolerance=tolerance, leak_tolerance=leak_tolerance, beta=beta)
    assert test.min_pass_requests == minimum
    for _ in range(minimum - 1):
        assert test.observe("v3") is None
    verdict = test.observe("v3")
    assert verdict is not None and verdict.status is Status.PASS
    assert verdict.n == minimum
    assert f"{minimum} >= {minimum}" in verdict.reason


def test_budget_spent_in_indifference_zone_is_inconclusive() -> None:
    # an exact 55/45 split: deviation 0.05 = delta/2, neither within +-0.1 with beta nor off by 0.1 with alpha
    # within 600 requests (checked: deterministic stream)
    test = SequentialSplitTest(HALF, max_requests=600)
    verdict = test.observe_many(interleaved({"v1": 11, "v3": 9}, 100))
    assert verdict is not None and verdict.status is Status.INCONCLUSIVE
    assert verdict.n == 600
    assert verdict.reason.startswith("budget spent inside the indifference zone")
    assert "v1 at 330/600" in verdict.reason or "v3 at 270/600" in verdict.reason


def test_undecided_and_sticky() -> None:
    test = SequentialSplitTest(HALF)
    assert test.verdict().reason == "undecided after 0 requests: no requests yet"
    assert test.observe_many(["v1", "v3"] * 10) is None
    current = test.verdict()
    assert current.status is Status.INCONCLUSIVE
    assert current.reason.startswith("undecided after 20 requests")
    decided = test.observe("v2")
    assert decided is not None and decided.status is Status.FAIL
    assert test.observe("v1") is decided  # stays decided, later observations are not counted
    assert test.verdict() is decided and test.n == 21


def test_budget_below_leak_minimum_is_inconclusive_with_reason() -> None:
    test = SequentialSplitTest({"v3": 1.0}, max_requests=50)
    verdict = test.observe_many(["v3"] * 100)
    assert verdict is not None and verdict.status is Status.INCONCLUSIVE and verdict.n == 50
    assert "needs at least 66" in verdict.reason


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"expected": {"v1": 0.5, "v3": 0.4}}, "sum to 1, got 0.9"),
        ({"expected": {}}, "empty"),
        ({"expected": {"v1": -0.5, "v3": 1.5}}, ">= 0"),
        ({"expected": HALF, "tolerance": 0.0}, "tolerance"),
        ({"expected": HALF, "alpha": 0.5}, "alpha"),
        ({"expected": HALF, "beta": 0.0}, "beta"),
        ({"expected": HALF, "leak_tolerance": 0.2}, "leak_tolerance"),
        ({"expected": HALF, "max_requests": 0}, "max_requests"),
    ],
)
def test_constructor_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SequentialSplitTest(**kwargs)  # type: ignore[arg-type]


def test_lazy_evaluation_matches_every_step_evaluation() -> None:
    """The skip-ahead schedule must not change any stopping time: compare with a test checked every step."""
    for seed, split in itertools.product(range(40), [{"v1": 0.5, "v3": 0.5}, {"v1": 0.58, "v3": 0.42}]):
        stream = draws(split, seed, 5000)
        lazy = SequentialSplitTest(HALF)
        eager = SequentialSplitTest(HALF)
        lazy_verdict = lazy.observe_many(stream)
        eager_verdict = None
        for category in stream:
            eager._next_check = 0  # force an evaluation after every request
            eager_verdict = eager.observe(category)
            if eager_verdict is not None:
                break
        assert lazy_verdict is not None and eager_verdict is not None
        assert (lazy_verdict.status, lazy_verdict.n) == (eager_verdict.status, eager_verdict.n), seed


def test_verdict_intervals_cover_shares_and_json_shape() -> None:
    test = SequentialSplitTest(HALF)
    verdict = test.observe_many(interleaved({"v1": 1, "v3": 1}, 3000))
    assert verdict is not None
    document = verdict.to_json()
    assert set(document) == {
        "status",
        "n",
        "counts",
        "shares",
        "expected",
        "intervals",
        "alpha",
        "beta",
        "tolerance",
        "leak_tolerance",
        "method",
        "reason",
    }
    assert document["status"] == "PASS"
    assert json.loads(json.dumps(document)) == document
    assert document["counts"] == {"v1": verdict.n // 2, "v3": verdict.n - verdict.n // 2}
    for name, (lo, hi) in verdict.intervals.items():
        assert lo <= verdict.shares[name] <= hi
        assert document["intervals"][name] == [lo, hi]
    assert verdict.method.startswith("mixture-SPRT")
    assert isinstance(verdict, Verdict) and verdict.alpha == 0.001 and verdict.tolerance == 0.1


# ---------------------------------------------------------------------------------------------------------
# verify_stream


def test_verify_stream_stops_at_deciding_line() -> None:
    records = [{"version": "v1"}, {"version": "v3"}] * 5 + [{"version": "v2"}] + [{"version": "v1"}] * 100
    consumed = 0

    def counting():  # type: ignore[no-untyped-def]
        nonlocal consumed
        for record in records:
            consumed += 1
            yield record

    verdict, used = verify_stream(counting(), expected=HALF, tolerance=0.1, alpha=0.001, beta=0.001,
                                  max_requests=5000)  # fmt: skip
    assert verdict.status is Status.FAIL and used == 11 and consumed == 11


def test_verify_stream_nested_key_and_exhaustion() -> None:
    records = [{"outcome": {"version": "v3"}}] * 30
    verdict, used = verify_stream(records, key="outcome.version", expected={"v3": 1.0})
    assert verdict.status is Status.INCONCLUSIVE and used == 30
    assert verdict.reason.startswith("undecided after 30 requests")
    verdict, used = verify_stream([{"outcome": {"version": "v3"}}] * 100, key="outcome.version",
                                  expected={"v3": 1.0})  # fmt: skip
    assert verdict.status is Status.PASS and used == 66
    with pytest.raises(ValueError, match="record 2 has no 'version'"):
        verify_stream([{"version": "v3"}, {"other": 1}], expected={"v3": 1.0})


# ---------------------------------------------------------------------------------------------------------
# parse_expect


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v1=0.5,v3=0.5", {"v1": 0.5, "v3": 0.5}),
        (" v1 = 0.8 , v2=0.2 ", {"v1": 0.8, "v2": 0.2}),
        ("v1=50,v3=50", {"v1": 0.5, "v3": 0.5}),
        ("v1=50%,v3=50%", {"v1": 0.5, "v3": 0.5}),
        ("v1=1/3,v2=1/3,v3=1/3", {"v1": 1 / 3, "v2": 1 / 3, "v3": 1 / 3}),
        ("v3=1", {"v3": 1.0}),
        ("v3=100", {"v3": 1.0}),
        ("v1=0,v3=1.0", {"v1": 0.0, "v3": 1.0}),
        ("v1=0.3333333,v2=0.3333333,v3=0.3333334", {"v1": 0.3333333, "v2": 0.3333333, "v3": 0.3333334}),
    ],
)
def test_parse_expect(text: str, expected: dict[str, float]) -> None:
    got = parse_expect(text)
    assert list(got) == list(expected)
    for name, share in expected.items():
        assert math.isclose(got[name], share, rel_tol=1e-12, abs_tol=1e-15)
    assert abs(math.fsum(got.values()) - 1.0) <= 1e-12
    SequentialSplitTest(got)  # accepted by the test constructor


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("v1=0.5,v3=0.4", "sum to 1 .*got 0.9"),
        ("v1=60,v3=50", "got 110"),
        ("v1=-0.5,v3=1.5", "negative"),
        ("v1=abc", "not a number"),
        ("v1", "NAME=SHARE"),
        ("=0.5,v3=0.5", "NAME=SHARE"),
        ("v1=0.5,v1=0.5", "twice"),
        ("v1=50%,v3=0.5", "mix"),
        ("v1=40%,v3=50%", "got 90"),
        ("v1=0.5,,v3=0.5", "empty item"),
    ],
)
def test_parse_expect_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_expect(text)


# ---------------------------------------------------------------------------------------------------------
# decide_counts


@pytest.mark.parametrize(
    ("counts", "expected", "kwargs", "status", "needle"),
    [
        ({"v1": 500, "v3": 500}, HALF, {}, Status.PASS, "every share within +-0.1"),
        ({"v1": 700, "v3": 300}, HALF, {}, Status.FAIL, "v1 at 700/1000"),
        ({"v1": 55, "v3": 45}, HALF, {}, Status.INCONCLUSIVE, "neither shown"),
        ({}, HALF, {}, Status.INCONCLUSIVE, "n = 0"),
        ({"v1": 0, "v3": 0}, HALF, {}, Status.INCONCLUSIVE, "n = 0"),
        ({"mirrored": 66, "not-mirrored": 0}, {"mirrored": 1.0}, {}, Status.PASS, "within"),
        ({"mirrored": 65, "not-mirrored": 0}, {"mirrored": 1.0}, {}, Status.INCONCLUSIVE, "65/65"),
        ({"mirrored": 999, "not-mirrored": 1}, {"mirrored": 1.0}, {}, Status.PASS, "within"),
        ({"mirrored": 999, "not-mirrored": 1}, {"mirrored": 1.0}, {"zero_means_zero": True}, Status.FAIL,
         "'not-mirrored' was counted 1"),
        ({"mirrored": 700, "not-mirrored": 300}, {"mirrored": 1.0}, {}, Status.FAIL, "at or below 0.900"),
        ({"mirrored": 0, "not-mirrored": 1000}, {"mirrored": 0.0, "not-mirrored": 1.0}, {}, Status.PASS,
         "within"),
        ({"mirrored": 500, "not-mirrored": 500}, {"mirrored": 0.5, "not-mirrored": 0.5}, {"tolerance": 0.02},
         Status.INCONCLUSIVE, "neither"),
        ({"mirrored": 50_000, "not-mirrored": 50_000}, {"mirrored": 0.5, "not-mirrored": 0.5},
         {"tolerance": 0.02}, Status.PASS, "within +-0.02"),
    ],
)  # fmt: skip
def test_decide_counts(
    counts: dict[str, int], expected: dict[str, float], kwargs: dict[str, object], status: Status, needle: str
) -> None:
    verdict = decide_counts(counts, expected, **kwargs)  # type: ignore[arg-type]
    assert verdict.status is status, verdict.reason
    assert needle in verdict.reason
    assert verdict.n == sum(counts.values())
    assert verdict.method.startswith("fixed-Clopper-Pearson")


def test_decide_counts_edges_use_exact_tails() -> None:
    # 50/50, delta 0.1, n = 200: PASS needs P_{0.6}(X <= x) <= beta and P_{0.4}(X >= x) <= beta, so the PASS
    # set is an integer range; check both ends against the exact binomial tails directly.
    passing = [x for x in range(201) if decide_counts({"a": x, "b": 200 - x}, {"a": 0.5, "b": 0.5},
                                                      beta=0.05).status is Status.PASS]  # fmt: skip
    assert passing, "some counts pass at n = 200, beta = 0.05"
    lo, hi = passing[0], passing[-1]
    assert passing == list(range(lo, hi + 1))
    assert binom_cdf(hi, 200, 0.6) <= 0.05 < binom_cdf(hi + 1, 200, 0.6)
    assert binom_sf(lo, 200, 0.4) <= 0.05 < binom_sf(lo - 1, 200, 0.4)


@pytest.mark.parametrize(
    ("counts", "message"),
    [({"a": -1, "b": 3}, "non-negative"), ({"a": 1.5, "b": 3}, "integer"), ({"a": True, "b": 3}, "integer")],
)
def test_decide_counts_validation(counts: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decide_counts(counts, {"a": 0.5, "b": 0.5})  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------
# stats helpers


def test_wald_and_fixed_sample_sizes_match_the_document() -> None:
    # verification-statistics.md section 5.2: Wald 338/342, 31/36, 155/188; fixed exact 1010 and 100
    for (p0, p1), (e0, e1) in {(0.5, 0.6): (338, 342), (0.5, 0.8): (31, 36), (0.8, 0.9): (155, 188)}.items():
        got0, got1 = wald_expected_sample_size(p0, p1, 0.001, 0.001)
        assert round(got0) == e0 and round(got1) == e1
    assert fixed_sample_size(0.5, 0.1, 0.001, 0.001) == 1010
    assert fixed_sample_size(0.5, 0.3, 0.001, 0.001) == 100
    assert fixed_sample_size(0.5, 0.1, 0.001, 0.001, method="normal") in (998, 999)
    # both alternatives 0.7 and 0.9 count for 0.8; 0.7 has the larger variance (the document's 511: 0.9 only)
    assert fixed_sample_size(0.8, 0.1, 0.001, 0.001) > 511
    with pytest.raises(ValueError):
        fixed_sample_size(0.5, 0.1, 0.001, 0.001, method="guess")


def test_two_sided_floor_lies_between_walds_one_sided_figure_and_the_sequential_test() -> None:
    # Wald's one-sided E0[N] bounds one side only (data-processing inequality); a PASS must reject both, so
    # the floor is higher. Our test is a valid test, so its mean (seeded, 1,000 runs) cannot be below it.
    floor = two_sided_floor(0.5, 0.2, 0.01, 0.01)
    one_sided = wald_expected_sample_size(0.5, 0.7, 0.01, 0.01)[0]
    rng = random.Random(7)
    sizes = []
    for _ in range(1000):
        test = SequentialSplitTest(HALF, tolerance=0.2, alpha=0.01, beta=0.01, max_requests=100_000)
        while test.observe(rng.choice(["v1", "v3"])) is None:
            pass
        sizes.append(test.n)
    mean = sum(sizes) / len(sizes)
    assert 1.3 * one_sided < floor < mean  # 51.7 < 72.4 < 80.1
    assert floor > two_sided_floor(0.5, 0.2, 0.05, 0.05)  # stricter error rates cost requests


@pytest.mark.parametrize(
    ("p0", "delta", "alpha", "beta"),
    [(0.5, 0.5, 0.01, 0.01), (0.1, 0.2, 0.01, 0.01), (0.5, 0.1, 0.0, 0.01), (0.5, 0.1, 0.01, 0.6)],
)
def test_two_sided_floor_rejects_impossible_problems(
    p0: float, delta: float, alpha: float, beta: float
) -> None:
    with pytest.raises(ValueError):
        two_sided_floor(p0, delta, alpha, beta)


@pytest.mark.parametrize(
    ("x", "n", "tail", "lo", "hi"),
    [
        (5, 10, 0.025, 0.187086, 0.812914),  # textbook 95 % Clopper-Pearson for 5/10
        (0, 10, 0.025, 0.0, 0.308497),
        (10, 10, 0.025, 0.691503, 1.0),
    ],
)
def test_clopper_pearson(x: int, n: int, tail: float, lo: float, hi: float) -> None:
    got_lo, got_hi = clopper_pearson(x, n, tail)
    assert math.isclose(got_lo, lo, abs_tol=1e-6) and math.isclose(got_hi, hi, abs_tol=1e-6)


def test_binomial_tails_match_direct_sums() -> None:
    for n, p in [(10, 0.3), (57, 0.5), (200, 0.91)]:
        pmf = [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)]
        for k in range(-1, n + 2):
            assert math.isclose(binom_sf(k, n, p), math.fsum(pmf[max(k, 0) :]), abs_tol=1e-12)
            assert math.isclose(binom_cdf(k, n, p), math.fsum(pmf[: max(k + 1, 0)]), abs_tol=1e-12)


def test_mixture_confidence_sequence_is_wider_than_fixed_interval() -> None:
    lo, hi = mixture_confidence_sequence(250, 500, 0.001)
    cp_lo, cp_hi = clopper_pearson(250, 500, 0.0005)
    assert lo < cp_lo < 0.5 < cp_hi < hi
    assert mixture_confidence_sequence(0, 0, 0.001) == (0.0, 1.0)
    lo, hi = mixture_confidence_sequence(0, 100, 0.001)
    assert lo == 0.0 and 0.05 < hi < 0.12  # solves -ln(101) - 100 ln(1 - q) = ln 1000


def test_probe_tests_feed_each_undecided_test_its_own_field() -> None:
    tests = build_probe_tests(
        reviews={"v3": 1.0}, pages={"ok": 1.0}, tolerance=0.1, alpha=0.001, beta=0.001, max_requests=100
    )
    assert set(tests) == {"reviews", "pages"}
    assert observe_page(tests, "v3", "ok") == {"reviews": None, "pages": None}
    fed = observe_page(tests, "v1", "ok")  # a leak decides the version test at once; pages go on
    assert fed["reviews"] is not None and fed["reviews"].status is Status.FAIL and fed["pages"] is None
    assert set(observe_page(tests, "v3", "ok")) == {"pages"}  # a decided test is not fed again
    assert not all_decided(tests)
    assert (
        build_probe_tests(reviews=None, pages=None, tolerance=0.1, alpha=0.001, beta=0.001, max_requests=100)
        == {}
    )
    assert not all_decided({})
