"""Read the fields of one user-written YAML document (a scenario, a rubric) with one-line errors.

Every failure names the file and the field path (``scenarios/x.yaml: expect.pods[0].count: ...``) and is
an :class:`~harness.errors.InputError` (exit code 2), or the subclass set in :attr:`DocumentReader.error`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.errors import InputError


class DocumentReader:
    error: type[InputError] = InputError
    """What :meth:`fail` raises."""
    none_is_empty = False
    """Whether a missing (null) mapping or list reads as empty instead of failing."""

    def __init__(self, source: str, base_dir: Path) -> None:
        self.source = source
        self.base_dir = base_dir

    def fail(self, where: str, message: str) -> InputError:
        return self.error(f"{self.source}: {where}: {message}")

    def mapping(self, value: object, where: str, allowed: set[str] | None) -> Mapping[str, Any]:
        """`value` as a mapping whose keys are all in `allowed` (None: any key)."""
        if value is None and self.none_is_empty:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(where, f"expected a mapping, got {type(value).__name__}")
        if allowed is not None:
            unknown = sorted(set(map(str, value)) - allowed)
            if unknown:
                raise self.fail(where, f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
        return value

    def sequence(self, value: object, where: str) -> list[Any]:
        """`value` as a list."""
        if value is None and self.none_is_empty:
            return []
        if not isinstance(value, list):
            raise self.fail(where, f"expected a list, got {type(value).__name__}")
        return value

    def number(self, value: object, where: str, *, low: float, high: float) -> float:
        """A finite number (not a boolean) in [low, high]."""
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(where, f"expected a number, got {value!r}")
        if not low <= float(value) <= high:
            raise self.fail(where, f"{value} is outside [{low:g}, {high:g}]")
        return float(value)

    def text(self, value: object, where: str) -> str:
        """A non-empty string."""
        if not isinstance(value, str) or not value:
            raise self.fail(where, "expected a non-empty string")
        return value
