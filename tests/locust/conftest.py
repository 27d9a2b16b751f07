"""Fixtures for the Locust tests: one lab for the directory, with Bookinfo and the reviews subsets applied.

Each test applies the VirtualService it needs (50/50 or all-v3) itself, so the tests run in any order.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from _locustlab import apply_scenario

from harness.lab.process import LabProcess


@pytest.fixture(scope="session")
def lab() -> Iterator[object]:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed (the Locust tests apply manifests with it)")
    with LabProcess(seed=1) as info:
        apply_scenario(info, "reviews-50-50")  # setup (gateway, rules, Bookinfo, v2/v3) + the 50/50 route
        yield info
