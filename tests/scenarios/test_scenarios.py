"""Every shipped scenario against the lab, in the exercise's order: each must PASS.

One lab serves the whole module (the `bookinfo_target` session fixture); each test applies its scenario's
setup and change, and the fixture restores what the test changed afterwards. A failure shows the verdict
table in the report.
"""

from __future__ import annotations

import pytest

from harness.paths import SCENARIOS_DIR

SCENARIOS = sorted(SCENARIOS_DIR.glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_passes_on_the_lab(run_scenario, path) -> None:  # type: ignore[no-untyped-def]
    result = run_scenario(path)
    assert result.error is None, result.error
    assert result.status.value == "PASS", result.to_json()
