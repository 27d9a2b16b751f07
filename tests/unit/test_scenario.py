"""Scenario files: every shipped scenario parses, and bad input is refused with the file and key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ScenarioError
from harness.paths import MANIFESTS_DIR, SCENARIOS_DIR
from harness.scenario import load_scenario, parse_scenario

SHIPPED = sorted(SCENARIOS_DIR.glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_scenario_parses(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name
    assert scenario.probes or scenario.pods or scenario.objects or scenario.routes


def test_the_flat_form_of_the_issue_parses() -> None:
    text = f"""
name: reviews-50-50
description: half of the reviews traffic goes to v3
apply: [{MANIFESTS_DIR}/destination-rule-all.yaml, {MANIFESTS_DIR}/virtual-service-reviews-50-50.yaml]
delete: []
traffic: {{path: /productpage, user: null, concurrency: 8, max_requests: 5000}}
expect:
  reviews: {{v1: 0.5, v3: 0.5}}
  pages: {{ok: 1.0}}
tolerance: 0.1
"""
    scenario = parse_scenario(text, source="s.yaml")
    assert scenario.intent_reviews == {"v1": 0.5, "v3": 0.5}
    assert scenario.probes[0].traffic.concurrency == 8
    assert [item.path.name for item in scenario.apply] == [
        "destination-rule-all.yaml",
        "virtual-service-reviews-50-50.yaml",
    ]
    assert scenario.alpha == scenario.beta == 0.001


BAD = [
    ("malformed YAML", "name: [unclosed", "line"),
    ("not a mapping", "- a\n- b", "expected a mapping"),
    ("no name", "description: x", "name"),
    ("unknown top-level key", "name: x\ntrafic: {}\nexpect: {reviews: {v1: 1.0}}", "unknown key 'trafic'"),
    ("unknown version", "name: x\ntraffic: {}\nexpect: {reviews: {v4: 1.0}}", "unknown key 'v4'"),
    (
        "shares that do not sum to 1",
        "name: x\ntraffic: {}\nexpect: {reviews: {v1: 0.5, v3: 0.4}}",
        "sum to 0.9",
    ),
    ("a share above 1", "name: x\ntraffic: {}\nexpect: {reviews: {v1: 1.5}}", "outside"),
    ("a missing file", "name: x\napply: [nope.yaml]\nexpect: {pods: [{count: 1}]}", "not found"),
    ("a scenario that checks nothing", "name: x", "checks nothing"),
    (
        "a path without slash",
        "name: x\ntraffic: {path: productpage}\nexpect: {reviews: {v1: 1}}",
        "start with /",
    ),
    (
        "probes and traffic together",
        "name: x\ntraffic: {}\nprobes: [{traffic: {}, expect: {reviews: {v1: 1}}}]\n"
        "expect: {reviews: {v1: 1}}",
        "either probes",
    ),
    (
        "a mirror without traffic",
        "name: x\nexpect: {mirror: {reviews-v2: 1.0}, pods: [{count: 1}]}",
        "needs traffic",
    ),
    ("tolerance out of range", "name: x\ntolerance: 2\ntraffic: {}\nexpect: {reviews: {v1: 1}}", "tolerance"),
    ("pod checks that are not a list", "name: x\nexpect: {pods: {count: 1}}", "expect.pods: expected a list"),
    (
        "object checks that are not a list",
        "name: x\nexpect: {objects: abc}",
        "expect.objects: expected a list",
    ),
]


@pytest.mark.parametrize(("case", "text", "fragment"), BAD, ids=[b[0] for b in BAD])
def test_bad_scenarios_are_refused_naming_the_place(case: str, text: str, fragment: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="bad.yaml", base_dir=Path("/nonexistent"))
    message = str(info.value)
    assert message.startswith("bad.yaml: ")
    assert fragment in message
    assert "\n" not in message
