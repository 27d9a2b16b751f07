"""The pure parts of the Locust integration, in the pytest process (which must never import locust)."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction

import pytest

from harness.drivers.locust.driver import LocustOptions, locust_command, verdict_from_json
from harness.drivers.locust.expectations import is_login_user, resolve_plan, share_fraction
from harness.drivers.locust.outcomes import row_name
from harness.drivers.locust.tracker import OutcomeBuffer, SplitTracker, decode, encode
from harness.model import PageOutcome, PageState, Version
from harness.paths import SCENARIOS_DIR
from harness.runner import ProbeResult, ScenarioResult
from harness.scenario import load_scenario
from harness.verdict import SequentialSplitTest


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("outcome", "identity", "name", "failed"),
    [
        (PageOutcome(Version.V3, PageState.OK), "anonymous", "productpage [reviews v3]", False),
        (PageOutcome(Version.V2, PageState.OK), "jason", "productpage jason [reviews v2]", False),
        (
            PageOutcome(Version.V2_OR_V3, PageState.RATINGS_UNAVAILABLE),
            "anonymous",
            "productpage [ratings-unavailable]",
            False,
        ),
        (
            PageOutcome(Version.V3, PageState.RATINGS_UNAVAILABLE),
            "anonymous",
            "productpage [reviews v3 ratings-unavailable]",
            False,
        ),
        (
            PageOutcome(Version.UNKNOWN, PageState.REVIEWS_ERROR),
            "anonymous",
            "productpage [reviews-error]",
            False,
        ),
        (
            PageOutcome(Version.UNKNOWN, PageState.MESH_ERROR, status=503, flag="UH"),
            "anonymous",
            "productpage [mesh-error 503 UH]",
            True,
        ),
        (
            PageOutcome(Version.UNKNOWN, PageState.MESH_ERROR, status=0),
            "anonymous",
            "productpage [transport-error]",
            True,
        ),
        (
            PageOutcome(Version.UNKNOWN, PageState.NOT_BOOKINFO),
            "anonymous",
            "productpage [not-bookinfo]",
            True,
        ),
    ],
)
def test_row_names(outcome: PageOutcome, identity: str, name: str, failed: bool) -> None:
    row = row_name(outcome, identity)
    assert row.name == name
    assert (row.failure is not None) == failed


@pytest.mark.parametrize("share", [0.0, 0.1, 0.25, 1 / 3, 0.5, 0.7, 1.0])
def test_login_share_is_exact_for_every_prefix(share: float) -> None:
    fraction = share_fraction(share)
    logged_in = 0
    for n in range(1, 200):
        logged_in += is_login_user(n - 1, fraction)
        assert logged_in == n * fraction.numerator // fraction.denominator


def test_share_fraction_rejects_out_of_range() -> None:
    assert share_fraction(0.25) == Fraction(1, 4)
    with pytest.raises(ValueError):
        share_fraction(1.5)


def test_plan_from_expect_and_from_scenarios() -> None:
    plan = resolve_plan(expect="v1=50,v3=50")
    assert [(p.name, p.identity, dict(p.reviews or {})) for p in plan.probes] == [
        ("traffic", "anonymous", {"v1": 0.5, "v3": 0.5})
    ]
    assert plan.jason_share == 0.0 and plan.alpha == 0.001 and plan.gate == 10

    plan = resolve_plan(scenario="header-routing-jason", alpha=1e-6)
    assert [(p.name, p.identity) for p in plan.probes] == [("jason", "jason"), ("anonymous", "anonymous")]
    assert plan.jason_share == 0.5 and plan.alpha == 1e-6 and plan.login_user == "jason"
    assert resolve_plan(scenario="header-routing-jason", probe="jason").jason_share == 1.0

    path = SCENARIOS_DIR / "09-reviews-50-50.yaml"
    plan = resolve_plan(scenario=str(path), max_requests=700)
    assert plan.scenario == "reviews-50-50" and plan.probes[0].max_requests == 700
    with pytest.raises(ValueError, match="no scenario named"):
        resolve_plan(scenario="no-such-thing")
    with pytest.raises(ValueError, match="not both"):
        resolve_plan(scenario="reviews-v3", expect="v3=1")


def test_locust_decides_jason_routing_with_the_scenarios_leak_tolerance() -> None:
    # the runner and Locust build their tests with one function: the 1% zero-leak bound of the jason
    # scenario holds in both (688 leak-free pages at beta 1e-3, not the 66 of the 10% default)
    plan = resolve_plan(scenario="header-routing-jason", probe="jason", gate=0)
    assert plan.leak_tolerance == 0.01
    tracker = SplitTracker(plan)
    for _ in range(687):
        tracker.observe("jason", "v2", "ok")
    assert not tracker.all_decided()
    tracker.observe("jason", "v2", "ok")
    assert tracker.all_decided()
    # a command-line tolerance below the scenario's leak tolerance caps it instead of failing
    assert resolve_plan(scenario="header-routing-jason", tolerance=0.005).leak_tolerance == 0.005


def test_tracker_gates_decides_and_resets() -> None:
    clock = Clock()
    tracker = SplitTracker(resolve_plan(expect="v3=1.0", gate=3), clock=clock)
    for version in ("v1", "v3", "v3", "v3"):  # a v1 page while converging resets the streak
        tracker.observe("anonymous", version, "ok")
    assert not tracker.all_decided()
    for _ in range(65):
        tracker.observe("anonymous", "v3", "ok")
        clock.now += 0.01
    assert not tracker.all_decided()  # an "all" split passes after exactly 66 leak-free pages
    tracker.observe("anonymous", "v3", "ok")
    assert tracker.all_decided()
    document = tracker.document(target="t")
    probe = document["scenarios"][0]["probes"][0]
    assert probe["verdict"] == "PASS" and probe["requests"] == 66 and probe["stopped_by"] == "decided"
    rows = tracker.table_rows()
    assert rows[0]["version"] == "v1" and rows[0]["count"] == 1 and rows[1]["count"] == 69
    tracker.reset()
    assert not tracker.all_decided() and tracker.snapshot()["identities"][0]["n"] == 0
    assert tracker.counts_json()["versions"] == {"anonymous": {"v1": 1, "v3": 69}}  # lifetime counts stay


def test_tracker_history_is_windowed() -> None:
    clock = Clock()
    tracker = SplitTracker(resolve_plan(expect="v1=0.5,v3=0.5", gate=0), clock=clock)
    for second in range(10):
        version = "v1" if second < 5 else "v3"
        for _ in range(4):
            tracker.observe("anonymous", version, "ok")
        clock.now += 1.0
        tracker.tick()
    points = tracker.history("anonymous", window_s=2.0)
    assert points[0]["shares"] == {"v1": 1.0}
    assert points[-1]["shares"] == {"v3": 1.0}
    assert all(p["n"] in (4, 8, 12) for p in points)
    assert "seconds,identity,version,cumulative_count" in tracker.history_csv()


def test_buffer_round_trip_feeds_the_same_counts() -> None:
    buffer = OutcomeBuffer()
    for version in ("v1", "v3", "v3"):
        buffer.add("jason", version, "ok")
    items = buffer.drain()
    assert (
        buffer.drain() == []
        and decode(items[0]) == ("jason", "v1", "ok")
        and encode(*decode(items[1])) == items[1]
    )
    tracker = SplitTracker(resolve_plan(expect_login="v1=0.5,v3=0.5", gate=0))
    assert tracker.observe_encoded(items) == 3
    assert (
        tracker.counts_json()["versions"] == buffer.counts_json()["versions"] == {"jason": {"v1": 1, "v3": 2}}
    )


def test_document_has_the_runner_shape() -> None:
    tracker = SplitTracker(resolve_plan(expect="v1=0.5,v3=0.5", gate=0))
    for version in ("v1", "v3") * 10:
        tracker.observe("anonymous", version, "ok")
    document = tracker.document(target="locust x", driver={"name": "locust"})
    runner_scenario = ScenarioResult("n", "d").to_json()
    test = SequentialSplitTest({"v1": 0.5, "v3": 0.5})
    runner_probe = ProbeResult("p", None, test.verdict(), None, 0, 0.0, "decided").to_json()
    scenario = document["scenarios"][0]
    assert set(document) == {"target", "seed", "scenarios", "driver"}
    assert set(scenario) == set(runner_scenario)
    assert set(scenario["probes"][0]) == set(runner_probe)
    assert set(scenario["probes"][0]["reviews"]) == set(runner_probe["reviews"])
    json.dumps(document)
    verdict = verdict_from_json(scenario["probes"][0]["reviews"])
    assert verdict.to_json() == scenario["probes"][0]["reviews"]


def test_locust_command_for_a_probe(tmp_path) -> None:  # type: ignore[no-untyped-def]
    scenario = load_scenario(SCENARIOS_DIR / "20-header-routing-jason.yaml")
    probe = scenario.probes[0]
    command = locust_command(
        "http://gw/",
        scenario.path,
        probe,
        verdict_json=tmp_path / "v.json",
        csv_prefix=tmp_path / "c",
        alpha=1e-4,
        options=LocustOptions(processes=2),
    )
    assert command[1:3] == ["-m", "locust"] and "--headless" in command
    assert command[command.index("--probe") + 1] == "jason"
    assert command[command.index("--login-user") + 1] == "jason"
    assert command[command.index("--host") + 1] == "http://gw"
    assert command[command.index("--processes") + 1] == "2"
    assert command[command.index("-t") + 1] == "120s"


def test_harness_side_never_imports_locust() -> None:
    code = (
        "import sys, harness.drivers.locust, harness.drivers.locust.driver, harness.drivers.locust.tracker, "
        "harness.drivers.locust.manifests; print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('locust', 'gevent')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
