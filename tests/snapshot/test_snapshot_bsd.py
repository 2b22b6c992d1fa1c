"""BSD cores become snapshots: NetBSD cores from the corpus (LLDB's asserted backtraces and
source lines) and FreeBSD-format cores made from real Linux crashes (tests/bsdcore.py) give the
same frames as the unwinder on the Linux original, through the fallback (corefile) engine,
since drgn reads no BSD core."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from coresnap.analysis import analyze
from coresnap.corefile import open_core
from coresnap.snapshot import validate
from coresnap.snapshot.build import build_snapshot
from tests.bsdcore import build_freebsd_core
from tests.crashes import build, crash
from tests.paths import SHARED

CORPUS = SHARED / "corpus"


def _netbsd() -> list[dict[str, Any]]:
    if not (CORPUS / "manifest.json").exists():
        return []
    manifest = json.loads((CORPUS / "manifest.json").read_text())
    return [
        e for e in manifest if e["os"] == "netbsd" and e["role"] == "core" and e.get("executable")
    ]


@pytest.mark.skipif(not _netbsd(), reason="no ../shared/corpus on this machine")
@pytest.mark.parametrize("entry", _netbsd(), ids=lambda e: e["file"])
def test_netbsd_corpus_core_snapshot(entry: dict[str, Any]) -> None:
    expect = {k: v["value"] for k, v in entry["expect"].items()}
    # The corpus renamed the program (netbsd-1lwp_SIGSEGV.amd64; the core says
    # 1lwp_SIGSEGV.amd64): the executable given on the command line is the program.
    snap = build_snapshot(CORPUS / entry["file"], str(CORPUS / entry["executable"]))
    validate(snap)
    assert snap["analysis"]["engine"] == "corefile"
    thread = next(t for t in snap["threads"] if t["tid"] == expect["selected_thread_lwpid"])
    assert thread["crashed"] and snap["crashed_thread"] == thread["tid"]
    prefix = expect["backtrace_selected_thread_prefix"]
    frames = thread["frames"][: len(prefix)]
    assert [f["function"] for f in frames] == prefix
    assert {f["function"]: f["line"] for f in frames} == expect["backtrace_source_lines"]
    assert snap["signal"]["name"] == "SIGSEGV"
    # The core names no files: the module list is what the unwinder placed (the program).
    (module,) = snap["modules"]
    assert module["path"] == str(CORPUS / entry["executable"])
    assert module["start"] <= frames[0]["pc"] < module["end"]
    assert module["debug_info"] == "embedded"
    with open_core(CORPUS / entry["file"]) as core:
        labels = analyze(snap, core)["classification"]["labels"]
    # NetBSD's SI_NOINFO carries no fault address: on amd64 it is computed from the faulting
    # instruction, read from the program's file (the core names no files). A signal sent to
    # the process (2lwp_process) faulted nowhere; arm64 code is not decoded yet.
    if entry["arch"] == "x86_64" and "process" not in entry["file"]:
        assert labels == ["null-deref", "memory.write"]
    else:
        assert labels == ["unknown"]


@pytest.mark.parametrize(
    ("source", "flags"), [("bsd_null.c", ("-g", "-O0")), ("bsd_threads.c", ("-g", "-O2"))]
)
def test_freebsd_core_snapshot_matches_the_linux_one(
    source: str, flags: tuple[str, ...], tmp_path: Path
) -> None:
    exe = build(source, flags=flags)
    c = crash(exe, cwd=tmp_path / "run", expect_signal=signal.SIGSEGV)
    names = {
        int(tid): name
        for line in c.stdout.splitlines()
        if line.startswith("tid ")
        for _, tid, name in [line.split()]
    }
    made = build_freebsd_core(
        c.core, tmp_path / "core.freebsd", cwd=c.exe.parent, thread_names=names
    )
    linux = build_snapshot(c.core, str(c.exe), engine="corefile")
    freebsd = build_snapshot(made.path, str(c.exe))
    validate(freebsd)
    assert freebsd["analysis"]["engine"] == "corefile"
    assert freebsd["signal"]["name"] == "SIGSEGV"

    def stacks(snap: dict[str, Any]) -> list[list[str | None]]:
        return [[f["function"] for f in t["frames"]] for t in snap["threads"]]

    # Thread order: the faulting thread first on both; tids differ (FreeBSD LWP ids).
    assert stacks(freebsd) == stacks(linux)
    crashed = next(t for t in freebsd["threads"] if t["crashed"])
    assert crashed["tid"] == made.lwpids[0]
    if names:  # FreeBSD keeps per-thread names (NT_THRMISC); Linux cores have none
        assert {t["name"] for t in freebsd["threads"]} >= set(names.values()) - {None}
    top = [f["function"] for f in crashed["frames"][:3]]
    assert top[0] == "crasher" if names else top == ["store", "fault_here", "main"]
