"""The real outputs docs/analysis.md shows are what the classifier says today (addresses, which
move with ASLR, and absolute paths aside)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from coresnap.analysis import analyze
from coresnap.corefile import open_core
from coresnap.snapshot.build import build_snapshot
from tests.analysis.analysis_support import O0, Factory
from tests.analysis.runtime_builds import RUST_O0, build_go, build_rust, runtime_env
from tests.crashes import crash
from tests.paths import ROOT

DOC = ROOT / "docs" / "analysis.md"


def _shown(title: str) -> dict[str, Any]:
    text = DOC.read_text()
    found = re.search(rf"<!-- real output: {re.escape(title)} -->\n```json\n(.*?)\n```", text, re.S)
    assert found, f"docs/analysis.md has no real output {title!r}"
    return json.loads(found.group(1))


def _stable(value: Any) -> Any:
    """``value`` without what changes from run to run: addresses and absolute paths."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    if isinstance(value, str):
        return re.sub(r"0x[0-9a-f]+", "0x…", re.sub(r"/\S*/", "…/", value))
    return value


def _runtime_crash(tmp_path: Path, exe: Path, mode: str, **env: str) -> dict[str, Any]:
    local = tmp_path / exe.name.rsplit("-", 1)[0]
    shutil.copy2(exe, local)
    result = crash(local, [mode], cwd=tmp_path, env=runtime_env(**env))
    snapshot = build_snapshot(result.core, str(result.exe))
    with open_core(result.core) as core:
        return analyze(snapshot, core)["classification"]["evidence"][0]


@pytest.mark.parametrize(
    ("title", "source", "mode"),
    [
        ("use-after-free call", "cls_uaf_call.c", "string"),
        ("heap underflow", "cls_heap_underflow.c", "huge"),
    ],
)
def test_c_examples(analyzed: Factory, title: str, source: str, mode: str) -> None:
    evidence = analyzed(source, mode, flags=O0).snapshot["classification"]["evidence"][0]
    assert _stable(evidence) == _stable(_shown(title))


def test_go_example(tmp_path: Path) -> None:
    evidence = _runtime_crash(tmp_path, build_go("cls_go_panic.go"), "nil", GOTRACEBACK="crash")
    assert _stable(evidence) == _stable(_shown("go nil"))


def test_rust_example(tmp_path: Path) -> None:
    evidence = _runtime_crash(tmp_path, build_rust("cls_rust_panic.rs", RUST_O0), "index")
    assert _stable(evidence) == _stable(_shown("rust index"))
