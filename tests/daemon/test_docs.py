"""docs/pipeline.md lists every core_pattern field and every step field, from the code."""

from __future__ import annotations

from pathlib import Path

from coresnap.capture import fields, minicore
from coresnap.daemon import commands

DOC = (Path(__file__).resolve().parents[2] / "docs" / "pipeline.md").read_text()


def test_core_pattern_fields_are_documented() -> None:
    for f in fields.FIELDS:
        assert f"| `%{f.specifier}` | `{f.name}` | {f.doc} |" in DOC
    assert " ".join("%" + f.specifier for f in fields.FIELDS) in DOC


def test_step_fields_are_documented() -> None:
    for key, (_name, doc) in commands.FIELDS.items():
        assert f"| `%{key}` | {doc} |" in DOC


def test_dump_keep_modes_are_documented() -> None:
    for mode in minicore.MODES:
        assert f"| `{mode}`" in DOC
    assert "`dump.minicore_above`" in DOC and "`dump.minicore_budget`" in DOC
