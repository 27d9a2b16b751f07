"""The oracle: from the applied Kubernetes/Istio objects to the traffic split the mesh SHOULD produce.

Pure (no I/O, clocks or randomness) and independent of harness.lab: the lab's mesh emulator and this
module encode Istio semantics separately, so each checks the other.

    expected_reviews_split(objects, request, *, namespace="default") -> Expectation
    findings(objects, *, namespace="default") -> list[Finding]
    compare_intent(expectation, intent_reviews, *, tolerance=1e-9) -> list[Finding]

A feature the oracle does not model (or that the API server would reject) raises OracleError; it never
guesses.
"""

from __future__ import annotations

from harness.oracle._expect import Expectation, Request, expected_reviews_split
from harness.oracle._findings import Finding, compare_intent, findings
from harness.oracle._objects import OracleError

__all__ = [
    "Expectation",
    "Finding",
    "OracleError",
    "Request",
    "compare_intent",
    "expected_reviews_split",
    "findings",
]
