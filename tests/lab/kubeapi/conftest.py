"""Fixtures for the API server tests (the helpers live in kubeapi_lab, a uniquely named module)."""

from __future__ import annotations

from kubeapi_lab import lab

__all__ = ["lab"]
