"""The pytest plugin, tested through pytest itself: options, fixtures, and the verdict table on failure."""

from __future__ import annotations

from harness.paths import ROOT

pytest_plugins = ["pytester"]

WRONG = ROOT / "tests" / "scenarios" / "wrong" / "intent-v3-config-all-v1.yaml"


def test_options_are_registered_in_their_own_group(pytester) -> None:  # type: ignore[no-untyped-def]
    result = pytester.runpytest("-p", "no:locust", "--help")
    result.stdout.fnmatch_lines(
        ["bookinfo-harness:", "*--target={lab,cluster}*", "*lab (default) or cluster*"]
    )


def test_a_scenario_runs_from_a_test_and_a_failure_shows_the_verdict_table(pytester) -> None:  # type: ignore[no-untyped-def]
    pytester.makepyfile(
        f"""
        def test_reviews_v3(run_scenario):
            assert run_scenario("reviews-v3").status.value == "PASS"

        def test_wrong_intent(run_scenario):
            assert run_scenario({str(WRONG)!r}).status.value == "PASS"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:locust", "-p", "no:anyio", "--lab-seed", "3")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*bookinfo-harness verdicts*", "*intent-v3-config-all-v1*FAIL*"])
