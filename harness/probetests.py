"""The sequential tests of one probe, fed together: the reviews-version split and the page-state split.

One definition for every driver (the runner's aio path and the Locust tracker), so a scenario's tolerance,
error rates, budget and leak tolerance mean the same thing whichever driver sends the traffic. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

from harness.verdict import SequentialSplitTest, Verdict

__all__ = ["ProbeTests", "all_decided", "build_probe_tests", "observe_page"]

ProbeTests = dict[str, SequentialSplitTest]
"""Keyed by what each test counts: "reviews" (the version of each page) and/or "pages" (its state)."""


def build_probe_tests(
    *,
    reviews: Mapping[str, float] | None,
    pages: Mapping[str, float] | None,
    tolerance: float,
    alpha: float,
    beta: float,
    max_requests: int,
    leak_tolerance: float | None = None,
) -> ProbeTests:
    """A test for each expectation the probe states; none when it states neither."""
    tests: ProbeTests = {}
    for key, expected in (("reviews", reviews), ("pages", pages)):
        if expected is not None:
            tests[key] = SequentialSplitTest(
                expected,
                tolerance=tolerance,
                alpha=alpha,
                beta=beta,
                max_requests=max_requests,
                leak_tolerance=leak_tolerance,
            )
    return tests


def observe_page(tests: ProbeTests, version: str, state: str) -> dict[str, Verdict | None]:
    """Feed one classified page to every test still undecided.

    Returns, for each test fed, the verdict this page produced (None while undecided); tests decided earlier
    are not fed and not listed.
    """
    values = {"reviews": version, "pages": state}
    return {key: test.observe(values[key]) for key, test in tests.items() if not test.decided}


def all_decided(tests: ProbeTests) -> bool:
    return bool(tests) and all(test.decided for test in tests.values())
