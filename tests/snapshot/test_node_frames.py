"""JS frames of real Node.js cores: scripts crash under ``node --abort-on-uncaught-exception``,
the snapshot's JS frames are checked against the JS stack Node printed to stderr as it died
(function, script, line and column, in order)."""

from __future__ import annotations

import json
import random
import re
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from coresnap.analysis.v8 import find_v8, metadata
from coresnap.corefile import open_core
from coresnap.snapshot.build import build_snapshot
from coresnap.snapshot.format import validate
from tests.crashes import build, crash
from tests.node_crashes import NodeCrash, crash_node, skip_reason, v8_version
from tests.paths import ROOT

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason()))

ABORT = ("--abort-on-uncaught-exception",)
NATIVES = (*ABORT, "--allow-natives-syntax")
Snapshotted = tuple[NodeCrash, dict[str, Any]]


@pytest.fixture(scope="module")
def node_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Snapshotted]:
    """``node_snapshot(script, engine=..., flags=...)``: crash once, snapshot; cached."""
    cache: dict[tuple[Any, ...], Snapshotted] = {}
    crashes: dict[tuple[str, tuple[str, ...]], NodeCrash] = {}

    def get(script: str, engine: str = "auto", flags: tuple[str, ...] = NATIVES) -> Snapshotted:
        if (script, flags) not in crashes:
            cwd = tmp_path_factory.mktemp(Path(script).stem)
            crashes[(script, flags)] = crash_node(script, cwd=cwd, node_flags=flags)
        key = (script, engine, flags)
        if key not in cache:
            found = crashes[(script, flags)]
            cache[key] = (found, build_snapshot(found.core, engine=engine))
        return cache[key]

    return get


def crashed_frames(snap: dict[str, Any]) -> list[dict[str, Any]]:
    return next(t for t in snap["threads"] if t["crashed"])["frames"]


def js_frames(snap: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in crashed_frames(snap) if f.get("language") == "js"]


def same_function(printed: str | None, ours: str) -> bool:
    """Node prints ``Type.name [as alias]`` (the receiver's type, the property it was called
    as); V8's own name is the last part, and an unnamed function prints no name at all."""
    if printed is None:
        return ours == "<anonymous>"
    name = re.sub(r" \[as [^\]]+\]$", "", printed)
    return name == ours or name.endswith("." + ours)


SCRIPTS = [
    "null_header.js",  # an engine TypeError three calls deep, through Array.prototype.map
    "range_error.js",  # a class method throwing from a timer callback
    "throw_string.js",  # a thrown string
    "throw_object.js",  # a thrown plain object
    "anonymous.js",  # an anonymous arrow function under Array.prototype.forEach
    "async_reject.js",  # an async function's unhandled rejection (Node's fatal path, SIGABRT)
    "esm_module.mjs",  # an ES module (its rejection aborts from Node's fatal path)
    "process_abort.js",  # process.abort(): a native abort under JS frames
    "hot_loop.js",  # a caller compiled by Turbofan: its frame is JIT code
]


@pytest.mark.parametrize("script", SCRIPTS)
def test_js_frames_are_the_stack_node_printed(
    node_snapshot: Callable[..., Snapshotted], script: str
) -> None:
    died, snap = node_snapshot(script)
    printed = died.current_stack
    ours = [f for f in js_frames(snap) if f["file"]]  # builtins have no script, Node no place
    if not printed and died.signal == signal.SIGABRT:
        pytest.skip("this node printed no JS stack as it aborted: nothing to compare with")
    assert printed, f"no JS stack in Node's stderr:\n{died.stderr}"
    assert [f["file"] for f in ours] == [p.file for p in printed], died.stderr
    for frame, line in zip(ours, printed, strict=True):
        assert same_function(line.function, frame["function"]), (frame, line)
        if frame["js"]["kind"] == "interpreted":
            assert (frame["line"], frame["column"]) == (line.line, line.column), (frame, line)
        else:
            assert (frame["line"], frame["column"]) == (None, None), frame
    assert any(f["line"] for f in ours)
    validate(snap)


def test_js_frames_replace_the_native_frames_of_the_interpreter(
    node_snapshot: Callable[..., Snapshotted],
) -> None:
    """Each interpreted JS frame was one ``Builtins_InterpreterEntryTrampoline`` frame of the
    native unwind: same pc, same position in the thread, the native name kept under ``js``."""
    _, snap = node_snapshot("null_header.js")
    frames = crashed_frames(snap)
    assert [f["index"] for f in frames] == list(range(len(frames)))
    interpreted = [f for f in js_frames(snap) if f["js"]["kind"] == "interpreted"]
    assert len(interpreted) >= 5
    # All return into the same place of the interpreter's entry (named unless stripped).
    assert len({f["pc"] for f in interpreted}) == 1
    assert {f["js"]["native"] for f in interpreted} <= {"Builtins_InterpreterEntryTrampoline", None}
    v8 = find_v8(snap)
    assert v8 is not None
    assert all(f["module"] == v8["path"] and f["function_offset"] is None for f in interpreted)
    names = [f["function"] for f in frames]
    assert names.index("v8::base::OS::Abort") < names.index("parseHeader")
    assert names.index("parseHeader") < names.index("handle") < names.index("main")


def test_interpreted_frames_running_from_copies_of_the_interpreter(
    node_snapshot: Callable[..., Snapshotted],
) -> None:
    """``--interpreted-frames-native-stack`` (perf profiling) gives each function its own copy
    of the interpreter's entry in JIT memory: the native frames are ``??``, the JS frames are
    still interpreted frames with their lines, as Node printed them."""
    flags = ("--abort-on-uncaught-exception", "--interpreted-frames-native-stack")
    died, snap = node_snapshot("null_header.js", flags=flags)
    v8 = find_v8(snap)
    symbols = metadata.exported_symbols(v8["path"]) if v8 else None
    if not symbols or metadata.BLOB_CODE not in symbols:
        pytest.skip("the V8 binary is stripped: it no longer says where its builtins are")
    ours = [f for f in js_frames(snap) if f["file"]]
    copied = [f for f in ours if f["module"] is None]
    assert len(copied) >= 5 and all(f["js"]["kind"] == "interpreted" for f in copied)
    assert [(f["line"], f["column"]) for f in ours] == [
        (p.line, p.column) for p in died.current_stack
    ]


def test_a_compiled_frame_is_named_without_a_line(
    node_snapshot: Callable[..., Snapshotted],
) -> None:
    """Turbofan's code has no symbol (the native unwind's ``??``): the frame gets its function
    and script from the frame's JSFunction, and no line (its position table is not decoded)."""
    died, snap = node_snapshot("hot_loop.js")
    compiled = {f["function"]: f for f in js_frames(snap) if f["js"]["kind"] == "compiled"}
    # scale is interpreted, or Sparkplug's when its background batch compile was quicker.
    assert set(compiled) in ({"sumAll"}, {"sumAll", "scale"})
    assert compiled["sumAll"]["file"] == str(died.script)
    assert compiled["sumAll"]["js"]["native"] is None and compiled["sumAll"]["module"] is None
    assert [p.function for p in died.current_stack[:2]] == ["scale", "sumAll"]


def test_the_fallback_engine_gets_the_js_frames_past_jit_code(
    node_snapshot: Callable[..., Snapshotted],
) -> None:
    """The core-reader engine stops at JIT code (no unwind information); the JS frames beyond
    come from V8's frame chain, the same as under drgn, and say so."""
    _, full = node_snapshot("hot_loop.js")
    _, fallback = node_snapshot("hot_loop.js", engine="corefile")
    frames = crashed_frames(fallback)
    assert "unwinding stopped" in str(
        next(t for t in fallback["threads"] if t["crashed"]).get("frames_cut")
    )
    assert [(f["function"], f["file"], f["line"]) for f in js_frames(fallback)] == [
        (f["function"], f["file"], f["line"]) for f in js_frames(full)
    ]
    appended = [f for f in frames if f.get("language") == "js" and not f["trusted"]]
    assert appended and any("V8's frame chain" in w for w in fallback["analysis"]["warnings"])
    validate(fallback)


def test_an_unknown_v8_version_leaves_the_frames_and_says_why(
    node_snapshot: Callable[..., Snapshotted], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the version's layout facts nothing is guessed: the native frames stay."""
    died, with_js = node_snapshot("null_header.js")
    monkeypatch.setattr(metadata, "layouts", lambda: {})
    snap = build_snapshot(died.core)
    assert js_frames(with_js) and not js_frames(snap)
    before = crashed_frames(snap)
    for frame in js_frames(with_js):
        assert before[frame["index"]]["pc"] == frame["pc"]
        assert before[frame["index"]]["function"] == frame["js"]["native"]
    assert any("layouts.json" in w for w in snap["analysis"]["warnings"])


def test_a_damaged_node_core_still_gives_a_snapshot(
    node_snapshot: Callable[..., Snapshotted], tmp_path: Path
) -> None:
    """Cores are hostile data: with bytes of the crashed thread's stack and of the V8 heap
    overwritten at random (three fixed seeds), the snapshot is still made and valid, the decoder
    never fails, and what JS frames remain say what the schema says (the decoder checks each
    object's map before it trusts it)."""
    died, clean = node_snapshot("null_header.js", flags=ABORT)
    base = died.core.read_bytes()
    sp = next(t for t in clean["threads"] if t["crashed"])["registers"]["rsp"]
    with open_core(died.core) as core:
        stack = next(s for s in core.segments if s.p_vaddr <= sp < s.end and s.p_filesz)
        heap = [s for s in core.segments if s.p_filesz and s.p_flags & 2 and s is not stack]
    frame_area = range(stack.p_offset + sp - stack.p_vaddr, stack.p_offset + stack.p_filesz)
    decoded = 0
    for seed in (1, 2, 3):
        rng, data = random.Random(seed), bytearray(base)
        for _ in range(12):
            data[rng.choice(frame_area)] = rng.randrange(256)
        for _ in range(20000):
            segment = rng.choice(heap)
            data[segment.p_offset + rng.randrange(segment.p_filesz)] = rng.randrange(256)
        damaged = tmp_path / f"core.{seed}"
        damaged.write_bytes(bytes(data))
        snap = build_snapshot(damaged, analyze=True)
        validate(snap)
        # Damage is data, never a decoder crash (the hook would turn one into this warning).
        assert not [w for w in snap["analysis"]["warnings"] if w.startswith("JS frames failed")]
        assert not [n for n in snap["classification"]["notes"] if "rule failed" in n]
        for frame in js_frames(snap):
            assert isinstance(frame["function"], str) and frame["js"]["kind"] in KINDS
            assert frame["line"] is None or frame["line"] >= 1
        decoded += bool(js_frames(snap))
    assert decoded, "the damage left no JS frame to decode in any core: nothing was tested"


KINDS = {"interpreted", "compiled", "builtin", "other"}


def test_a_process_without_v8_is_left_alone(tmp_path: Path) -> None:
    found = crash(build("snap_basic.c", flags=("-g", "-O0")), cwd=tmp_path / "run")
    snap = build_snapshot(found.core, str(found.exe))
    assert not js_frames(snap)
    assert not [w for w in snap["analysis"]["warnings"] if "JS" in w]


def test_the_frames_docs_show_are_real(node_snapshot: Callable[..., Snapshotted]) -> None:
    """docs/snapshot-format.md's JS frames are today's, for the program's own script."""
    if not v8_version().startswith("11.3."):
        pytest.skip(f"the docs show Node 20's frames (V8 11.3), this node has V8 {v8_version()}")
    died, snap = node_snapshot("null_header.js", flags=ABORT)
    doc = (ROOT / "docs" / "snapshot-format.md").read_text()
    block = re.search(r"<!-- real output: node frames -->\n```json\n(.*?)\n```", doc, re.S)
    assert block, "docs/snapshot-format.md has no real output 'node frames'"
    keys = ("index", "function", "file", "line", "column", "language", "js")
    ours = [
        {k: (f"…/{Path(f[k]).name}" if k == "file" and f[k] else f[k]) for k in keys}
        for f in js_frames(snap)
        if f["file"] in (str(died.script), None) and f["index"] <= 14
    ]
    assert ours == json.loads(block.group(1))
