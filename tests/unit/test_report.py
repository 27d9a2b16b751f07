"""The verdict table's NOTES column: what went wrong first, else how many checks held."""

from __future__ import annotations

import pytest

from harness.checks import CheckResult
from harness.report import verdict_table
from harness.runner import ScenarioResult


def _notes(result: ScenarioResult) -> str:
    header, row = verdict_table([result]).splitlines()[:2]
    return row[header.index("NOTES") :].strip()


@pytest.mark.parametrize(
    ("checks", "error", "notes"),
    [
        ([], None, ""),
        ([CheckResult("pods", True, "6/6 ready")], None, "1 check ok"),
        ([CheckResult("pods", True, "")] * 3, None, "3 checks ok"),
        (
            [CheckResult("pods", True, ""), CheckResult("gateway", False, "no listener on 80")],
            None,
            "gateway: no listener on 80",
        ),
        ([CheckResult("pods", True, "")], "target unreachable", "target unreachable"),
    ],
)
def test_notes_column(checks: list[CheckResult], error: str | None, notes: str) -> None:
    result = ScenarioResult(name="gateway", description="step 3", checks=checks, error=error)
    assert _notes(result) == notes
