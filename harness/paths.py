"""Where the project's data folders are (the manifests and scenarios that ship with the harness)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS_DIR = ROOT / "manifests"
SCENARIOS_DIR = ROOT / "scenarios"
