"""Every thread, every frame's function name (inline frames included), in order: the snapshot
against ``gdb -batch -ex 'thread apply all bt'`` on the same core and executable. The
crashing frame's arguments and locals against ``info args`` / ``info locals``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from coresnap.snapshot.build import build_snapshot
from tests.snapshot.snapshot_oracles import (
    check_gdb_value,
    gdb_backtraces,
    gdb_frame_vars,
    normalize,
)
from tests.snapshot.snapshot_support import PROGRAMS, Crashed

ALL = [*PROGRAMS, "c_lib"]


def _names(thread: dict[str, Any]) -> list[str]:
    return [normalize(f["function"] or "??") for f in thread["frames"]]


@pytest.mark.parametrize("engine", ["drgn", "corefile"])
@pytest.mark.parametrize("name", ALL)
def test_every_thread_matches_gdb(
    crashed: dict[str, Crashed], name: str, engine: str, tmp_path: Path
) -> None:
    """Both engines: drgn, and the fallback (the core reader + coresnap's own unwinder)."""
    c = crashed[name]
    gdb = gdb_backtraces(c.crash.exe, c.crash.core, tmp_path)
    snapshot = (
        c.snapshot
        if engine == "drgn"
        else build_snapshot(c.crash.core, str(c.crash.exe), engine="corefile")
    )
    assert snapshot["analysis"]["engine"] == engine
    ours = {t["tid"]: t for t in snapshot["threads"]}
    assert set(ours) == set(gdb), f"threads differ: {sorted(ours)} vs {sorted(gdb)}"
    for tid, frames in gdb.items():
        want = [f.function for f in frames]
        got = _names(ours[tid])
        tail = [f.tailcall for f in frames]
        ours_tail = [bool(f.get("tail_call")) for f in ours[tid]["frames"]][: len(tail)]
        assert ours_tail == tail, f"thread {tid}: tail-call frames differ"
        # gdb stops at main ("backtrace past-main" is off); the snapshot goes on to _start.
        if want and want[-1] == "main":
            got = got[: len(want)]
        assert got == want, f"thread {tid}:\n snapshot {got}\n gdb      {want}"


def test_inline_frames_are_marked(crashed: dict[str, Crashed]) -> None:
    frames = crashed["c_O0"].snapshot["threads"][0]["frames"]
    inline = [f["function"] for f in frames if f["inline"]]
    assert inline == ["inlined_step"]
    frames_o2 = crashed["c_O2"].snapshot["threads"][0]["frames"]
    assert any(f["inline"] for f in frames_o2)  # middle → inlined_step folded into callers


def test_threads64_has_every_thread_and_the_crash(crashed: dict[str, Crashed]) -> None:
    snap = crashed["threads64"].snapshot
    assert len(snap["threads"]) == 65
    crashed_thread = next(t for t in snap["threads"] if t["crashed"])
    assert crashed_thread["tid"] == snap["crashed_thread"] == crashed["threads64"].crash.pid
    assert crashed_thread["frames"][0]["function"] == "crash_in_main"
    parked = {f["function"] for t in snap["threads"] for f in t["frames"]}
    assert {"park_sleeping", "park_waiting", "worker"} <= parked
    # glibc's futex wait tail-calls (jmp) __futex_abstimed_wait_common: gdb shows the frame.
    tails = [f for t in snap["threads"] for f in t["frames"] if f.get("tail_call")]
    assert len(tails) == 32 and {f["function"] for f in tails} == {
        "__futex_abstimed_wait_cancelable64"
    }


@pytest.mark.parametrize("name", ["c_O0", "c_O2", "c_nopie", "cxx_O0", "c_lib"])
def test_crashing_frame_variables_match_gdb(crashed: dict[str, Crashed], name: str) -> None:
    c = crashed[name]
    thread = next(t for t in c.snapshot["threads"] if t["crashed"])
    index = next(i for i, f in enumerate(thread["frames"]) if f["file"])
    ours = {v["name"]: v for v in thread["frames"][index]["variables"]}
    checked = 0
    for which in ("locals", "args"):
        gdb = gdb_frame_vars(c.crash.exe, c.crash.core, index, which)
        for var, text in gdb.items():
            assert var in ours, f"{var} (gdb: {text}) missing from the snapshot: {sorted(ours)}"
            assert ours[var]["kind"] == ("param" if which == "args" else "local")
            if which == "args" and ours[var].get("optimized_out") and name.endswith("O2"):
                # gdb recovers some -O2 arguments through DW_OP_entry_value (the caller's
                # call-site values); drgn 0.3.0 does not, and says "optimized out" honestly.
                continue
            problem = check_gdb_value(text, ours[var])
            assert problem is None, f"{name} {var}: {problem}"
            checked += 1
    assert checked >= 2


def test_basic_values_are_rendered(crashed: dict[str, Crashed]) -> None:
    frame = crashed["c_O0"].snapshot["threads"][0]["frames"][0]
    v = {x["name"]: x for x in frame["variables"]}
    assert v["rec"]["kind"] == "param" and v["local_int"]["kind"] == "local"
    assert v["message"]["string"] == "about to crash"
    assert v["buffer"]["value"] == "stack buffer"
    assert v["shade"]["value"] == 5 and v["shade"]["display"] == "GREEN"
    assert v["ratio"]["value"] == 0.5
    assert v["target"]["value"] == 0 and v["target"]["points_to"] == "NULL"
    assert v["rec"]["deref"]["where"]["x"] == 3 and v["rec"]["deref"]["tag"] == "tagged"
    assert frame["source"]["lines"][frame["line"] - frame["source"]["first_line"]].strip()


def test_cxx_names_are_qualified(crashed: dict[str, Crashed]) -> None:
    names = [f["function"] for f in crashed["cxx_O0"].snapshot["threads"][0]["frames"]]
    assert names[:2] == ["shapes::Widget::explode", "shapes::apply_all<shapes::Widget>"]


def test_module_without_debug_info(crashed: dict[str, Crashed]) -> None:
    snap = crashed["c_lib"].snapshot
    lib = next(m for m in snap["modules"] if "libsnaplib" in m["path"])
    assert lib["debug_info"] is None and lib["build_id"]
    top = snap["threads"][0]["frames"][0]
    assert top["function"] == "snaplib_checksum" and top["file"] is None
    assert top["module"] and "libsnaplib" in top["module"]
