"""Exam grading: rubric-driven, read-only checks of a cluster or the lab, with a score sheet.

rubric.py     rubric YAML -> Rubric (items, points, `required` gates, weighted atomic checks)   pure
jsonpath.py   kubectl-style field paths                                                        pure
checks.py     config checks on the objects read, with the oracle's diagnoses as advice        pure
score.py      check results -> item scores (config and behaviour points apart), gates, flags   pure
baseline.py   anti-cheat: identities at exam start, recreated or pre-existing objects          pure
report.py     table, JSON, JUnit XML, GitHub Classroom JSON                                    pure
readonly.py   ReadOnlyKube: get/list/server_version over HTTP GET, nothing else               shell
behaviour.py  traffic through the gateway (split, jason vs anonymous, mirror copies)          shell
grader.py     grade one target / many concurrently with a bound and a time budget             shell
"""

from __future__ import annotations

from harness.grading.grader import TargetSpec, grade, grade_many, load_targets
from harness.grading.rubric import Rubric, load_rubric, parse_rubric
from harness.grading.score import ItemScore, Sheet

__all__ = [
    "ItemScore",
    "Rubric",
    "Sheet",
    "TargetSpec",
    "grade",
    "grade_many",
    "load_rubric",
    "load_targets",
    "parse_rubric",
]
