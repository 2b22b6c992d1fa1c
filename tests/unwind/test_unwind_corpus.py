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

from coresnap.corefile import open_core
from coresnap.unwind import unwind_thread
from coresnap.unwind.objfile import open_object
from tests.paths import SHARED

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


def _entry(name: str) -> dict[str, Any]:
    return next(e for e in _manifest() if e["file"] == name)


def _frames_of_first_thread(core_file: Path, *files: Path) -> list:
    by_name = {f.name: str(f) for f in files}

    def resolver(path: str, build_id: str | None) -> str | None:
        return by_name.get(Path(path).name) or by_name.get(Path(path).name + ".out")

    with open_core(core_file) as core:
        return unwind_thread(core, core.threads[0], file_resolver=resolver)


@pytest.mark.parametrize("name", ["lldb/linux-x86_64.core", "lldb/linux-i386.core"])
def test_lldb_linux_cores(name: str) -> None:
    entry = _entry(name)
    expect = {k: v["value"] for k, v in entry["expect"].items()}
    frames = _frames_of_first_thread(CORPUS / name, CORPUS / entry["executable"])
    assert [f.function for f in frames] == expect["backtrace_selected_thread"]  # exactly 3
    assert {f.function: f.line for f in frames} == expect["backtrace_source_lines"]
    assert frames.stop_reason.startswith("outermost")


def test_lldb_noreturn_call_at_the_end_of_the_module() -> None:
    """A noreturn call is the module's last instruction: return addresses point past the end
    of func1 and of the module; the lookup must use pc - 1 (TestNoReturnModuleEnd.py)."""
    entry = _entry("lldb/noreturn-module-end.core")
    frames = _frames_of_first_thread(
        CORPUS / entry["file"], CORPUS / "lldb" / "noreturn-module-end.out"
    )
    expected = entry["expect"]["backtrace_selected_thread"]["value"]
    assert [(f.function, f.function_offset) for f in frames] == [
        (e["symbol"], e["pc_minus_symbol_start"]) for e in expected
    ]


def test_elfutils_inline_frames(tmp_path: Path) -> None:
    """eu-stack -i on testfiledwarfinlines.core (run-stack-i-test.sh): five frames at one pc."""
    entry = _entry("elfutils/testfiledwarfinlines.core.bz2")
    exe = _local(entry["executable"], tmp_path)
    frames = _frames_of_first_thread(_local(entry["file"], tmp_path), exe)
    expected = entry["expect"]["stack_with_inlines"]["value"]
    ours = [(f.pc, f.function, f"{Path(f.file or '').name}:{f.line}") for f in frames[:6]]
    # eu-stack -r prints the raw ELF symbol (_Z2fui) of the physical frame; we, like gdb,
    # print the DWARF name (fu): the same function, checked through the symbol's address.
    theirs = [(int(e["pc"], 16), e["symbol"], e["src"]) for e in expected]
    assert [o[::2] for o in ours] == [t[::2] for t in theirs]
    assert [o[1] for o in ours] == ["fubar", "foobar", "bar", "foo", "fu", "main"]
    assert [f.inline for f in frames[:6]] == [True] * 4 + [False, False]
    fui = open_object(str(exe)).symbols.by_name(theirs[4][1])
    assert fui is not None and fui.start <= frames[4].pc < fui.start + fui.size


def test_drgn_crashme_core() -> None:
    """drgn's test_stack_frame_name: c at #0, an unnamed libc address at #5, _start at #7
    (with the program's and crashme.so's debug info, without libc's file)."""
    entry = _entry("drgn/crashme.core")
    frames = _frames_of_first_thread(
        CORPUS / entry["file"], CORPUS / "drgn" / "crashme", CORPUS / "drgn" / "crashme.so"
    )
    expect = entry["expect"]["crashed_thread_stack_trace"]["value"]
    assert frames[0].function == expect["0"]["function_name"]
    assert hex(frames[5].pc) == expect["5"]["name"] and frames[5].function is None
    assert frames[7].function == expect["7"]["name"]
