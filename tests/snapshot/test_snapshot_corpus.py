"""Other projects' cores (../shared/corpus): LLDB's own test facts about its Linux cores —
the crashed thread's frames, their source lines and the local ``F`` in each — must hold in our
snapshots. Every core of that set must give a valid snapshot whatever the architecture (drgn
or, where drgn cannot unwind, the fallback engine)."""

from __future__ import annotations

import bz2
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from coresnap.snapshot import validate
from coresnap.snapshot.build import build_snapshot

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
pytestmark = pytest.mark.skipif(not (CORPUS / "manifest.json").exists(), reason="no corpus")
# Architectures whose LLDB facts we assert (drgn unwinds x86-64 and s390x; the pure-Python
# unwinder serves i386).
ASSERTED = {"lldb/linux-x86_64.core", "lldb/linux-s390x.core", "lldb/linux-i386.core"}


def _entries() -> list[dict[str, Any]]:
    if not (CORPUS / "manifest.json").exists():
        return []
    manifest = json.loads((CORPUS / "manifest.json").read_text())
    return [
        e
        for e in manifest
        if e["role"] == "core" and "backtrace_selected_thread" in e["expect"] and e["os"] == "linux"
    ]


def _materialize(entry: dict[str, Any], name: str, out: Path) -> Path:
    """The corpus file ``name`` uncompressed under ``out`` (the corpus itself stays untouched)."""
    manifest = json.loads((CORPUS / "manifest.json").read_text())
    compression = next(e["compression"] for e in manifest if e["file"] == name)
    data = (CORPUS / name).read_bytes()
    if compression == "bz2":
        data = bz2.decompress(data)
    elif compression == "gz":
        data = gzip.decompress(data)
    path = out / name.replace("/", "_")
    path.write_bytes(data)
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("entry", _entries(), ids=lambda e: e["file"])
def test_lldb_core_facts(entry: dict[str, Any], tmp_path: Path) -> None:
    core = _materialize(entry, entry["file"], tmp_path)
    exe = _materialize(entry, entry["executable"], tmp_path) if entry["executable"] else None
    snap = build_snapshot(core, str(exe) if exe else None)
    validate(snap)
    expect = entry["expect"]
    crashed = next(t for t in snap["threads"] if t["crashed"])
    if "selected_thread_tid" in expect:
        assert crashed["tid"] == expect["selected_thread_tid"]["value"]
    if entry["file"] not in ASSERTED:
        return
    names = [f["function"] for f in crashed["frames"]]
    assert names == expect["backtrace_selected_thread"]["value"], snap["analysis"]
    if snap["analysis"]["engine"] != "drgn":
        return  # the fallback engine reads no variables and no lines
    lines = {f["function"]: f["line"] for f in crashed["frames"]}
    assert lines == expect["backtrace_source_lines"]["value"]
    local_f = {
        f["function"]: next(v["value"] for v in f["variables"] if v["name"] == "F")
        for f in crashed["frames"]
    }
    assert local_f == expect["frame_local_F"]["value"]
