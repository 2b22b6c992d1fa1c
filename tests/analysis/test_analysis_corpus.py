"""Other projects' real cores (../shared/corpus): analysis never fails, and decodes only what
it can read (x86 instructions on x86 cores; every other architecture gets an honest note)."""

from __future__ import annotations

import bz2
import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from coresnap.analysis import analyze
from coresnap.corefile import open_core
from coresnap.errors import CoresnapError
from coresnap.snapshot.build import build_snapshot
from tests.paths import ROOT

CORPUS = ROOT.parent / "shared" / "corpus"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text()) if CORPUS.is_dir() else []
BY_FILE = {e["file"]: e for e in MANIFEST}
# The largest cores (100 MB inflated, 65,536 segments) add minutes and no new case.
CORES = [
    e["file"]
    for e in MANIFEST
    if e.get("role") == "core" and e["size_uncompressed"] < 50_000_000 and "65535" not in e["file"]
]
X86 = {"x86_64", "i386", "x32"}


@pytest.fixture(scope="session")
def inflated(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("corpus")

    def get(name: str) -> Path:
        entry, out = BY_FILE[name], root / name.replace("/", "_")
        if not out.exists():
            opener: Any = {"bz2": bz2.open, "gz": gzip.open}.get(entry["compression"], open)
            with opener(CORPUS / name, "rb") as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
        return out

    return get


@pytest.mark.skipif(not CORES, reason="the shared corpus is not present")
@pytest.mark.parametrize("name", CORES)
def test_corpus_core_analyzes(inflated: Any, name: str) -> None:
    entry = BY_FILE[name]
    core = inflated(name)
    executable = str(inflated(entry["executable"])) if entry.get("executable") in BY_FILE else None
    try:
        snapshot = build_snapshot(core, executable)
    except CoresnapError as e:
        pytest.skip(f"the snapshot builder rejects it: {e}")
    with open_core(core) as opened:
        out = analyze(snapshot, opened)
    classification = out["classification"]
    assert classification["labels"] and 0 <= out["quality"]["score"] <= 100
    assert not [n for n in classification["notes"] if "rule failed" in n]
    decoded = [e for e in classification["evidence"] if "instruction" in e["facts"]]
    if entry.get("arch") not in X86:
        assert not decoded, f"{entry.get('arch')} bytes decoded as x86: {decoded}"
