"""Frames equal to gdb's (issue 17) for Rust and Go programs, both engines.

Rust (``-C panic=abort``, debug and ``-O``): names as gdb prints them, from DWARF (drgn skips
Rust units: the engine reads them itself), inline frames included (``main::parse::header``
inlined into ``main::main``), symbols without DWARF demangled without crate hashes. Compared
whole, up to gdb's last frame (gdb stops past ``main``).

Go (``GOTRACEBACK=crash``: a panic, a nil dereference, one with goroutines spinning on other
threads). How we compare, thread by thread:

- a zero return address ends the stack: gdb prints it as a last ``0x0 in ?? ()`` frame, the
  snapshot has no frame there; otherwise the frames are gdb's;
- a return address that is not code (the main thread's g0 stack above ``runtime.mcall``
  holds a data address): gdb names it by the data symbol there and goes on as far as it can;
  the snapshot keeps that frame unnamed and untrusted, and stops;
- where gdb is wrong we go further, deliberately. Past ``runtime.systemstack`` gdb reads
  what the thread's g0 stack last held (``runtime.newproc``, a data address); the snapshot
  goes back to the goroutine that switched stacks (``runtime.throw``'s caller, ...
  ``main.main``), its first frame untrusted (found by a search). Go's signal trampoline
  (``runtime.sigreturn__sigaction``) has ordinary CFI, so gdb shows it as ``??`` and then reads
  garbage. There the snapshot has ``<signal handler called>`` (same pc) and then the code the
  signal interrupted, unwound from the registers the kernel saved: for a crash, the signal
  path once and then ``runtime.sigpanic``, ``main.walk``, ``main.main``, ``runtime.main``,
  ``runtime.goexit``.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from coresnap.analysis.quality import score
from coresnap.snapshot import validate
from coresnap.snapshot.build import build_snapshot
from tests.crashes import Crash, crash
from tests.snapshot.snapshot_oracles import GdbFrame, gdb_backtraces, normalize
from tests.snapshot.toolchains import build_go, build_rust

ENGINES = ["drgn", "corefile"]
RUST_CASES = {  # name -> (flags, argv[1])
    "debug-index": (("-g", "-C", "panic=abort"), "index"),
    "O-index": (("-g", "-O", "-C", "panic=abort"), "index"),
    "O-unwrap": (("-g", "-O", "-C", "panic=abort"), "unwrap"),
}
GO_MODES = ["panic", "nil", "busy", "unlock"]
SIGNAL_FRAME = "<signal handler called>"


def snapshot(c: Crash, engine: str) -> dict[str, Any]:
    snap = build_snapshot(c.core, str(c.exe), engine=engine)  # type: ignore[arg-type]
    assert snap["analysis"]["engine"] == engine, snap["analysis"]["fallback_reason"]
    validate(snap)
    return snap


def names(frames: list[dict[str, Any]]) -> list[str]:
    return [f["function"] or "??" for f in frames]


@pytest.fixture(scope="module")
def rust_crashes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Crash]:
    root = tmp_path_factory.mktemp("rust")
    out = {}
    for case, (flags, mode) in RUST_CASES.items():
        exe = build_rust("snap_rust/main.rs", flags, "snap_rust" + "".join(flags))
        out[case] = crash(exe, (mode,), cwd=root / case, expect_signal=signal.SIGABRT)
    return out


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", list(RUST_CASES))
def test_rust_frames_are_gdbs(
    rust_crashes: dict[str, Crash], case: str, engine: str, tmp_path: Path
) -> None:
    c = rust_crashes[case]
    gdb = gdb_backtraces(c.exe, c.core, tmp_path)[c.pid]
    frames = next(t for t in snapshot(c, engine)["threads"] if t["crashed"])["frames"]
    ours = names(frames)
    assert len(ours) > len(gdb)
    for n, (mine, theirs) in enumerate(zip(ours, gdb, strict=False)):
        if "::" in theirs.name:  # Rust: whole paths
            assert mine == theirs.name, f"frame {n}"
        else:  # glibc's aliases are spelled differently (__GI_raise): see normalize()
            assert normalize(mine) == theirs.function, f"frame {n}"
    assert gdb[-1].name == "main::main"  # gdb stops there ("backtrace past-main")
    mangled = [
        n for n in ours if n.startswith(("_R", "_ZN")) or re.search(r"\[|::h[0-9a-f]{16}", n)
    ]
    assert not mangled, "Rust names keep mangling or hashes"
    at = ours.index("main::main")
    if case != "debug-index":  # -O inlines the crashing function into main
        inner = "main::parse::header" if case == "O-index" else "main::parse::field"
        assert ours[at - 1] == inner and frames[at - 1]["inline"]
        assert frames[at - 1]["function_start"] == frames[at]["function_start"]
    if case.endswith("index"):
        assert "core::panicking::panic_bounds_check" in ours[:at]


@pytest.fixture(scope="module")
def go_crashes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Crash]:
    exe = build_go("snap_go", "snap_go")
    root = tmp_path_factory.mktemp("go")
    # GOTRACEBACK=crash: the runtime raises the signal again after printing the panic, so
    # the kernel dumps core (the default exits with status 2 and no core).
    env = {**os.environ, "GOTRACEBACK": "crash"}
    return {mode: crash(exe, (mode,), cwd=root / mode, env=env) for mode in GO_MODES}


def _code(snap: dict[str, Any]) -> list[tuple[int, int]]:
    return [(m["start"], m["end"]) for m in snap["memory_map"] if "x" in m["perms"]]


def _compare_go_thread(
    ours: list[dict[str, Any]], gdb: list[GdbFrame], code: list[tuple[int, int]], tid: int
) -> None:
    """Check one thread against gdb as the module doc says."""
    if gdb and gdb[-1].pc == 0 and gdb[-1].name == "??":
        gdb = gdb[:-1]  # the zero return address: the end of the stack, no frame
    # gdb unwinds runtime.sigtramp's caller by its CFI: the trampoline, which it names ??,
    # then garbage; we go on from the saved registers.
    at = next((i for i in range(1, len(gdb)) if gdb[i - 1].name == "runtime.sigtramp"), -1)
    if at > 0:
        assert ours[at]["function"] == SIGNAL_FRAME and ours[at]["signal_frame"] is True
        assert ours[at]["pc"] == gdb[at].pc
        assert len(ours) > at + 1, f"thread {tid}: nothing after the signal frame"
        gdb, ours = gdb[:at], ours[:at]
    switch = next((i for i, g in enumerate(gdb) if g.name == "runtime.systemstack"), -1)
    if switch >= 0:  # gdb goes on into g0's leftovers, we back to the goroutine
        assert not ours[switch + 1]["trusted"] and ours[switch + 1]["function"] != "runtime.newproc"
        gdb, ours = gdb[: switch + 1], ours[: switch + 1]
    junk = next((i for i, g in enumerate(gdb) if i and not any(a <= g.pc < b for a, b in code)), -1)
    if junk > 0:
        assert ours[junk]["pc"] == gdb[junk].pc and ours[junk]["function"] is None
        assert not ours[junk]["trusted"] and len(ours) == junk + 1, f"thread {tid}"
        gdb, ours = gdb[:junk], ours[:junk]
    assert all(f["trusted"] for f in ours), f"thread {tid}: guesses"
    assert names(ours) == [g.name for g in gdb], f"thread {tid}"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("mode", GO_MODES)
def test_go_threads_match_gdb(
    go_crashes: dict[str, Crash], mode: str, engine: str, tmp_path: Path
) -> None:
    c = go_crashes[mode]
    gdb = gdb_backtraces(c.exe, c.core, tmp_path)
    snap = snapshot(c, engine)
    threads = {t["tid"]: t for t in snap["threads"]}
    assert set(threads) == set(gdb)
    if mode == "busy":
        assert len(threads) >= 5  # main's thread and the four spinning goroutines' at least
    for tid, frames in gdb.items():
        ours = threads[tid]["frames"]
        assert all(f["pc"] != 0 for f in ours), f"thread {tid}: a 0x0 frame"
        _compare_go_thread(ours, frames, _code(snap), tid)
    crashed = next(t for t in snap["threads"] if t["crashed"])
    got = names(crashed["frames"])
    # The crashed thread: the signal path once, then the interrupted code down to the
    # goroutine's entry.
    assert got.count(SIGNAL_FRAME) == 1 and got.count("runtime.sigtramp") == 1
    after = got[got.index(SIGNAL_FRAME) + 1 :]
    tail = ["main.main", "runtime.main", "runtime.goexit"]
    assert after[-3:] == tail
    if mode in ("nil", "busy"):
        assert after.index("runtime.sigpanic") + 1 == after.index("main.walk")
    elif mode == "panic":
        assert "runtime.gopanic" in after
    else:  # the fatal error, made on the system stack, then the goroutine that threw it
        at = after.index("runtime.systemstack")
        assert after[at + 1] == "runtime.fatalthrow" and after[-4] == "main.release"
    reasons = " ".join(score(snap)["reasons"])
    assert "not code" not in reasons and "unwinding stopped at" not in reasons, reasons


@pytest.mark.parametrize("engine", ENGINES)
def test_locked_goroutines_keep_their_threads(go_crashes: dict[str, Crash], engine: str) -> None:
    """Each of the four goroutines that locked its OS thread (runtime.LockOSThread) is on its
    thread: spinning in main.spin (through an async-preemption signal frame, if one was being
    handled), or, once the runtime froze the world to crash, its thread waiting in
    runtime.stoplockedm."""
    snap = snapshot(go_crashes["busy"], engine)
    held = [names(t["frames"]) for t in snap["threads"]]
    held = [got for got in held if "runtime.stoplockedm" in got or "main.spin" in got]
    assert len(held) == 4, held


@pytest.mark.parametrize("engine", ENGINES)
def test_go_fault_in_an_inlined_function_names_it(engine: str, tmp_path: Path) -> None:
    """Go's signal handler makes the faulting goroutine call runtime.sigpanic with the faulting
    pc as its return address: that frame's inline frames are the ones at the pc itself (Go's
    own traceback, printed on stderr, says the same), not those one byte before."""
    exe = build_go("snap_go", "snap_go")
    env = {**os.environ, "GOTRACEBACK": "crash"}
    c = crash(exe, ("inline",), cwd=tmp_path / "run", env=env)
    source = (Path(__file__).parents[1] / "programs" / "snap_go" / "main.go").read_text()
    line = next(n for n, text in enumerate(source.splitlines(), 1) if 'mode "inline"' in text)
    assert re.search(rf"main\.tailValue\(.*\)\n\s+\S+main\.go:{line}", c.stderr), c.stderr[-800:]
    frames = next(t for t in snapshot(c, engine)["threads"] if t["crashed"])["frames"]
    got = names(frames)
    at = got.index("runtime.sigpanic") + 1
    assert got[at : at + 2] == ["main.tailValue", "main.sumTails"]
    assert frames[at]["inline"] and frames[at]["line"] == line
    assert frames[at]["pc"] == frames[at + 1]["pc"]
