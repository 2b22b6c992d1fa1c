"""The metrics tests drive real coresnapd and coronerd processes: reuse their helpers."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
