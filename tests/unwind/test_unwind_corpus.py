"""The unwinder on other projects' cores, against what their own tests assert
(``../shared/corpus/manifest.json``): elfutils' backtrace cores (x86_64, i386, aarch64, and
the frame-pointer build without CFI) and LLDB's NetBSD amd64/aarch64 cores."""

from __future__ import annotations

import bz2
import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import SHARED

from coresnap.corefile import open_core
from coresnap.unwind import unwind_thread

CORPUS = SHARED / "corpus"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="no ../shared/corpus on this machine")


def _manifest() -> list[dict[str, Any]]:
    if not CORPUS.is_dir():
        return []
    return [e for e in json.loads((CORPUS / "manifest.json").read_text()) if e["role"] == "core"]


def _local(entry_file: str, tmp: Path) -> Path:
    """The corpus file, decompressed into tmp when stored as bz2 (never into the repo)."""
    src = CORPUS / entry_file
    if not entry_file.endswith(".bz2"):
        return src
    out = tmp / Path(entry_file).name.removesuffix(".bz2")
    if not out.exists():
        out.write_bytes(bz2.decompress(src.read_bytes()))
    return out


def _unwind(core_path: Path, exe: Path) -> dict[int, list[str | None]]:
    def resolver(path: str, build_id: str | None) -> str | None:
        # The cores name the build machines' paths; only the executable ships with them.
        # (backtrace.<arch>.exec, or backtrace-child for the aarch64 one).
        return str(exe) if Path(path).name.startswith("backtrace") else None

    with open_core(core_path) as core:
        return {
            t.tid: [f.function for f in unwind_thread(core, t, file_resolver=resolver)]
            for t in core.threads
        }


ELFUTILS = [e for e in _manifest() if e["file"].startswith("elfutils/backtrace.")]
ELFUTILS_ARCHES = ("x86_64", "i386", "aarch64")


@pytest.mark.parametrize(
    "entry",
    [e for e in ELFUTILS if any(f".{a}." in e["file"] for a in ELFUTILS_ARCHES)],
    ids=lambda e: e["file"],
)
def test_elfutils_backtrace_cores(entry: dict[str, Any], tmp_path: Path) -> None:
    expect = {k: v["value"] for k, v in entry["expect"].items()}
    threads = _unwind(_local(entry["file"], tmp_path), _local(entry["executable"], tmp_path))
    first = next(iter(threads.values()))  # the signalled thread's NT_PRSTATUS comes first
    wanted = expect["first_thread_frames_in_order"]  # raise, sigusr2, stdarg, backtracegen
    start = first.index(wanted[0])
    assert start <= 1  # tolerated before raise: one __kernel_vsyscall frame (backtrace.c)
    assert first[start : start + len(wanted)] == wanted
    names = [n for frames in threads.values() for n in frames]
    assert expect["unwind_some_thread_reaches"] in names
    assert expect["unwind_contains_symbol"] in names
    assert expect["unwind_must_not_contain_symbol"] not in names
    assert all(len(f) <= expect["at_most_frames_per_thread"] for f in threads.values())


NETBSD = [e for e in _manifest() if e["os"] == "netbsd" and e.get("executable")]


@pytest.mark.parametrize("entry", NETBSD, ids=lambda e: e["file"])
def test_netbsd_cores(entry: dict[str, Any]) -> None:
    expect = {k: v["value"] for k, v in entry["expect"].items()}
    exe = CORPUS / entry["executable"]
    core_path = CORPUS / entry["file"]
    resolved = {"exe": str(exe)}

    def resolver(path: str, build_id: str | None) -> str | None:
        return resolved["exe"] if os.path.basename(path)[:10] in exe.name else None

    with open_core(core_path) as core:
        thread = next(t for t in core.threads if t.tid == expect["selected_thread_lwpid"])
        frames = unwind_thread(core, thread, file_resolver=resolver)
    prefix = expect["backtrace_selected_thread_prefix"]
    assert [f.function for f in frames[: len(prefix)]] == prefix
    lines = {f.function: f.line for f in frames[: len(prefix)]}
    assert lines == expect["backtrace_source_lines"]
    assert all(f.trusted for f in frames[: len(prefix)])
