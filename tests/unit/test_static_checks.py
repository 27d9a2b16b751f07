"""`make lint` runs in CI too: ruff on every Python tree; mypy on the package (it ships py.typed), the
benchmarks and the locustfiles."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TREES = ["harness", "tests", "benchmarks", "locustfiles", "conftest.py"]


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", *TREES],
        ["ruff", "format", "--check", *TREES],
        ["mypy"],  # files and settings from [tool.mypy] in pyproject.toml
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_static_check_is_clean(command: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
