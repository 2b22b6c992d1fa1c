"""Frames equal to gdb's (issue 17) for C and C++: qualified names of inline C++ frames at -O2
(templates, lambdas behind std::function, constructors), one name per function whether
inlined or not, the signal trampoline, garbage past a smashed return address, and
``function_start``/``function_offset`` equal between a stripped binary and its twin.

Both engines. Names are compared whole with gdb's, except for a parameter list gdb sometimes
keeps (``without_params``: its C++ name parser gives up on some names) and past ``main``
(gdb's "backtrace past-main" is off; the snapshot goes on to ``_start``).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from coresnap.analysis.demangle import last_component
from coresnap.analysis.quality import score
from coresnap.snapshot import validate
from coresnap.snapshot.build import build_snapshot
from tests.crashes import Crash, build, crash
from tests.snapshot.snapshot_oracles import GdbFrame, gdb_backtraces, normalize, without_params

ENGINES = ["drgn", "corefile"]
INLINE_MODES = ["total", "ctor", "lambda"]


def snapshot(c: Crash, engine: str) -> dict[str, Any]:
    snap = build_snapshot(c.core, str(c.exe), engine=engine)  # type: ignore[arg-type]
    assert snap["analysis"]["engine"] == engine, snap["analysis"]["fallback_reason"]
    validate(snap)
    return snap


def crashed_frames(snap: dict[str, Any]) -> list[dict[str, Any]]:
    return next(t for t in snap["threads"] if t["crashed"])["frames"]


def crashed_gdb(c: Crash, tmp: Path) -> list[GdbFrame]:
    return gdb_backtraces(c.exe, c.core, tmp)[c.pid]


def up_to_main(names: list[str], gdb: list[str]) -> list[str]:
    return names[: len(gdb)] if gdb and gdb[-1] == "main" else names


@pytest.fixture(scope="module")
def inline_crashes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Crash]:
    """snap_inline.cc at -O2 (the crash inlined) and -O0 (every frame real), each mode."""
    root = tmp_path_factory.mktemp("inline")
    out = {}
    for opt in ("-O2", "-O0"):
        exe = build("snap_inline.cc", flags=("-g", opt))
        for mode in INLINE_MODES:
            out[opt, mode] = crash(exe, (mode,), cwd=root / f"{opt}{mode}", expect_signal=11)
    return out


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("opt", ["-O2", "-O0"])
@pytest.mark.parametrize("mode", INLINE_MODES)
def test_cxx_names_are_gdbs(
    inline_crashes: dict[tuple[str, str], Crash], mode: str, opt: str, engine: str, tmp_path: Path
) -> None:
    c = inline_crashes[opt, mode]
    gdb = [without_params(f.name) for f in crashed_gdb(c, tmp_path)]
    frames = crashed_frames(snapshot(c, engine))
    ours = up_to_main([f["function"] or "??" for f in frames], gdb)
    assert ours == gdb
    if opt == "-O0":
        return
    inline = [f["function"] for f in frames if f["inline"]]
    # The examples, as gdb prints them: a template's member, a constructor, a
    # lambda's std::function handler (GCC gives it no linkage name: named from its scopes).
    expected = {
        "total": ["shop::Catalog<int>::total", "operator()"],
        "ctor": ["shop::Widget::Widget"],
        "lambda": ["operator()"],
    }[mode]
    assert inline[: len(expected)] == expected
    if mode == "total":
        handler = "std::_Function_handler<int(), main(int, char**)::<lambda()> >::_M_invoke"
        assert handler in inline and "shop::detail::run" in inline


@pytest.mark.parametrize("engine", ENGINES)
def test_a_function_has_one_name_inlined_or_not(
    inline_crashes: dict[tuple[str, str], Crash], engine: str
) -> None:
    """-O0 and -O2 builds of one crash name each function alike, inlined or real: the
    fingerprint's blamed frame must not split on the optimisation level."""
    for mode in INLINE_MODES:
        names = {}
        for opt in ("-O0", "-O2"):
            frames = crashed_frames(snapshot(inline_crashes[opt, mode], engine))
            names[opt] = [f["function"] for f in frames if f["function"]]
        shared = {last_component(n) for n in names["-O0"]} & {
            last_component(n) for n in names["-O2"]
        }
        for short in shared - {"main", "operator()"}:
            spelled = {n for opt in names for n in names[opt] if last_component(n) == short}
            assert len(spelled) == 1, f"{mode}: {short} spelled {spelled}"
        assert names["-O0"][0] == names["-O2"][0], mode


@pytest.fixture(scope="module")
def handler_crash(tmp_path_factory: pytest.TempPathFactory) -> Crash:
    exe = build("snap_sighandler.c", flags=("-g", "-O0"))
    return crash(exe, cwd=tmp_path_factory.mktemp("sighandler"), expect_signal=signal.SIGSEGV)


@pytest.mark.parametrize("engine", ENGINES)
def test_signal_trampoline_frame(handler_crash: Crash, engine: str, tmp_path: Path) -> None:
    """A crash inside a SIGUSR1 handler: the trampoline the handler returns to (glibc's
    __restore_rt) is gdb's ``<signal handler called>``, then the code the signal interrupted."""
    gdb = crashed_gdb(handler_crash, tmp_path)
    frames = crashed_frames(snapshot(handler_crash, engine))
    ours = up_to_main([normalize(f["function"] or "??") for f in frames], [g.function for g in gdb])
    assert ours == [g.function for g in gdb]
    at = next(i for i, g in enumerate(gdb) if g.kind == "sigtramp")
    tramp = frames[at]
    assert tramp["function"] == "<signal handler called>" and tramp["signal_frame"] is True
    assert tramp["pc"] == gdb[at].pc and tramp["function_start"] is not None
    assert [f["function"] for f in frames[:at]] == ["on_usr1"]
    assert sum(1 for f in frames if f.get("signal_frame")) == 1
    assert all(f["trusted"] for f in frames)


@pytest.mark.parametrize("engine", ENGINES)
def test_garbage_past_a_smashed_return_address(engine: str, tmp_path: Path) -> None:
    """The caller's pc read off a smashed stack is in no module: that frame (and whatever
    drgn guesses past it) is not trusted, and quality counts it as garbage."""
    exe = build("snap_smashed.c", flags=("-g", "-O0", "-fno-stack-protector"))
    c = crash(exe, cwd=tmp_path / "run", expect_signal=signal.SIGSEGV)
    snap = snapshot(c, engine)
    frames = crashed_frames(snap)
    assert frames[0]["function"] == "smash_and_crash" and frames[0]["trusted"]
    garbage = [f for f in frames if f["module"] is None]
    assert [f["pc"] for f in garbage] == [0x4141414141414141]
    assert not garbage[0]["trusted"]
    reasons = score(snap)["reasons"]
    assert any("1 frames have a pc that is not code" in r for r in reasons), reasons
    gdb = crashed_gdb(c, tmp_path)
    assert gdb[1].pc == 0x4141414141414141  # gdb reads the same garbage there


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Crash]:
    """snap_basic.c -O2 -g and the same file stripped (same build id, same code), crashed
    alike."""
    root = tmp_path_factory.mktemp("twins")
    full = build("snap_basic.c", flags=("-g", "-O2"))
    stripped = root / "basic-stripped"
    shutil.copy2(full, stripped)
    subprocess.run(["strip", "--strip-all", str(stripped)], check=True)
    return {
        "full": crash(full, cwd=root / "full", expect_signal=signal.SIGSEGV),
        "stripped": crash(stripped, cwd=root / "stripped", expect_signal=signal.SIGSEGV),
    }


@pytest.mark.parametrize("engine", ENGINES)
def test_stripped_twin_has_the_same_function_starts(twins: dict[str, Crash], engine: str) -> None:
    """A stripped frame is named by module + function_start (+ function_offset): from the
    .eh_frame FDE without symbols, from the symbol with them; the two agree frame by frame."""
    from coresnap.unwind import cache

    physical = {}
    for name, c in twins.items():
        cache.clear()  # objects are cached by build id: the twin would lend its symbols
        physical[name] = [f for f in crashed_frames(snapshot(c, engine)) if not f["inline"]]
    full, stripped = physical["full"], physical["stripped"]
    assert [f["module_offset"] for f in full] == [f["module_offset"] for f in stripped]
    unnamed = 0
    for a, b in zip(full, stripped, strict=True):
        assert a["function_start"] is not None, a
        assert (a["function_start"], a["function_offset"]) == (
            b["function_start"],
            b["function_offset"],
        ), (a["function"], b["function"])
        assert a["module_offset"] - a["function_offset"] == a["function_start"]
        unnamed += b["function"] is None
    assert unnamed >= 2  # the program's static functions: no symbol left, still a start


@pytest.mark.parametrize("engine", ENGINES)
def test_a_cold_part_has_its_functions_qualified_name(engine: str, tmp_path: Path) -> None:
    """-O2 moves the throw of ``app::Config::load`` to its symbol ``load [clone .cold]``, whose
    DIE says ``load``: the frame has gdb's name, the qualified one, as at -O0."""
    names = {}
    for opt in ("-O2", "-O0"):
        exe = build("snap_cold.cc", flags=("-g", opt))
        c = crash(exe, cwd=tmp_path / opt, expect_signal=signal.SIGABRT)
        frames = crashed_frames(snapshot(c, engine))
        names[opt] = next(
            f["function"] for f in frames if (f.get("file") or "").endswith("snap_cold.cc")
        )
        gdb = [g.name for g in crashed_gdb(c, tmp_path / opt)]
        assert names[opt] in gdb
    assert names["-O2"] == names["-O0"] == "app::Config::load"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("opt", ["-O2", "-O0"])
def test_a_call_to_a_bad_pc_goes_on_from_the_return_address(
    engine: str, opt: str, tmp_path: Path
) -> None:
    """A call through a bad function pointer: the caller is the return address at sp, with the
    inline function the call was in (drgn alone goes on from the frame pointer and skips
    both at -O2)."""
    exe = build("snap_badcall.c", flags=("-g", opt))
    c = crash(exe, cwd=tmp_path / "run", expect_signal=signal.SIGSEGV)
    gdb = [g.function for g in crashed_gdb(c, tmp_path)]
    frames = crashed_frames(snapshot(c, engine))
    ours = up_to_main([normalize(f["function"] or "??") for f in frames], gdb)
    assert ours == gdb
    assert gdb[:4] == ["??", "fire", "run_timers", "main"]
    assert frames[1]["inline"] is (opt == "-O2") and frames[1]["line"] == 18
