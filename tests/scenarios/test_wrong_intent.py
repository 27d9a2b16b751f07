"""Scenarios whose stated intent disagrees with the config they apply FAIL on the lab: at the oracle
(before traffic, finding HARNESS001) and by traffic (the sequential test rejects the stated split)."""

from __future__ import annotations

from pathlib import Path

import pytest

WRONG = Path(__file__).parent / "wrong"

CASES = [
    ("intent-50-50-config-80-20.yaml", True),
    ("intent-v3-config-all-v1.yaml", True),
    ("mirror-expected-but-not-configured.yaml", False),  # the page split is right; only the mirror is missing
]


@pytest.mark.parametrize(("file", "oracle_flags_it"), CASES, ids=[c[0].removesuffix(".yaml") for c in CASES])
def test_a_scenario_whose_intent_differs_from_its_config_fails(run_scenario, file, oracle_flags_it) -> None:  # type: ignore[no-untyped-def]
    result = run_scenario(WRONG / file)
    assert result.status.value == "FAIL", result.to_json()
    codes = {f["code"] for f in result.findings if f["level"] == "Error"}
    assert ("HARNESS001" in codes) is oracle_flags_it, result.findings
    if file.startswith("mirror"):
        assert result.mirror is not None and result.mirror.status.value == "FAIL"
    else:
        assert result.probes[0].reviews.status.value == "FAIL", result.probes[0].to_json()
