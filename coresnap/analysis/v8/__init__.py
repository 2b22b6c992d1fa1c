"""JS frames of a Node.js core: V8's frames of the crashed thread, named from the V8 heap.

``annotate_js_frames(core, snapshot)`` runs after unwinding (either engine). When a module of
the process exports V8's postmortem metadata (:mod:`.metadata`), it walks the crashed thread's
frame-pointer chain (:mod:`.frames`), decodes each JS frame's function, script and line from
the heap (:mod:`.heap`, :mod:`.objects`) and puts them on the native frames with the same pc:
``Builtins_InterpreterEntryTrampoline`` and ``??`` (JIT code) become ``parseHeader`` at
``/srv/app/parse.js:12``, marked ``"language": "js"``. JS frames past the end of a native unwind
that stopped at JIT code are appended. A V8 it cannot read leaves the frames as they were and
says why in a note.
"""

from __future__ import annotations

import os
from typing import Any

from coresnap.analysis.document import crashed_thread
from coresnap.analysis.v8.builtins import Builtins
from coresnap.analysis.v8.frames import JSFrame, chain, js_frames, scanned_chain
from coresnap.analysis.v8.heap import Heap
from coresnap.analysis.v8.metadata import Metadata, Read, V8LayoutUnknown, exported_symbols, load
from coresnap.analysis.v8.objects import ANONYMOUS
from coresnap.errors import CoresnapError

__all__ = ["annotate_js_frames", "find_v8", "v8_heap"]

SCAN_BYTES = 64 * 1024  # how far above sp to look for the first JS frame without V8's fp
# The frame pointer and stack pointer of the ABIs V8 runs on (x86-64 rbp; AArch64 x29).
_FP_SP = (("rbp", "rsp"), ("x29", "sp"))


def find_v8(snap: dict[str, Any]) -> dict[str, Any] | None:
    """The module of ``snap`` that exports V8's metadata (the node executable, a libnode)."""
    exe = (snap.get("process") or {}).get("exe")
    for module in snap.get("modules") or []:
        path = module.get("path")
        if not isinstance(path, str) or not (path == exe or "node" in os.path.basename(path)):
            continue
        if os.path.isfile(path) and exported_symbols(path):
            return module
    return None


def v8_heap(snap: dict[str, Any], read: Read) -> Heap:
    """A :class:`Heap` over the V8 of ``snap``'s process.

    Raises:
        V8LayoutUnknown: no V8 module, or one whose metadata or version cannot be decoded.
    """
    module = find_v8(snap)
    if module is None:
        raise V8LayoutUnknown("process", "no module exports V8's postmortem metadata")
    bias = module.get("load_bias") or 0
    meta: Metadata = load(module["path"], bias, read)
    return Heap(meta, read)


def core_reader(core: Any) -> Read:
    """``read(address, size)`` over an opened core's memory, None where it has no bytes."""

    def read(address: int, size: int) -> bytes | None:
        try:
            return bytes(core.memory.read(address, size))
        except (CoresnapError, OSError, ValueError):
            return None

    return read


def annotate_js_frames(core: Any, snap: dict[str, Any]) -> list[str]:
    """Name the JS frames of ``snap``'s crashed thread in place; return notes for the snapshot's
    warnings (empty for a process without V8). Never raises: the snapshot must survive."""
    try:
        return _annotate(core, snap)
    except Exception as e:  # noqa: BLE001 - a core is hostile data; the frames stay as they were
        return [f"JS frames failed: {type(e).__name__}: {e}"]


def _annotate(core: Any, snap: dict[str, Any]) -> list[str]:
    thread = crashed_thread(snap)
    if thread is None or find_v8(snap) is None:
        return []
    try:
        heap = v8_heap(snap, core_reader(core))
    except V8LayoutUnknown as e:
        return [f"JS frames not decoded: {e}"]
    notes: list[str] = []
    found = _walk(heap, snap, thread, notes)
    if not found:
        return [*notes, "JS frames: none found on the crashed thread's stack"]
    _merge(thread["frames"], found, snap, notes)
    return notes


def _walk(
    heap: Heap, snap: dict[str, Any], thread: dict[str, Any], notes: list[str]
) -> list[JSFrame]:
    regs = thread.get("registers") or {}
    fp_sp = next(((regs[f], regs[s]) for f, s in _FP_SP if f in regs and s in regs), None)
    if fp_sp is None:
        notes.append("JS frames: no frame and stack pointer in the crashed thread's registers")
        return []
    fp, sp = fp_sp
    stack = next(
        ((m["start"], m["end"]) for m in snap["memory_map"] if m["start"] <= sp < m["end"]), None
    )
    if stack is None:
        notes.append(f"JS frames: the stack pointer {sp:#x} is in no mapping")
        return []
    kinds = _code_kinds(snap, heap)
    found = js_frames(heap, chain(heap, fp, stack, pc=None), kinds, notes)
    if not found:
        found = js_frames(heap, scanned_chain(heap, sp, stack, SCAN_BYTES), kinds, notes)
    return found


def _code_kinds(snap: dict[str, Any], heap: Heap) -> Any:
    """``kind(pc)``: "v8" for V8's own code (the binary's text, the builtins' copy), "jit" for
    other anonymous executable memory (code V8 compiled), "other" for the rest."""
    executable = [m for m in snap["memory_map"] if "x" in str(m.get("perms"))]
    builtins = Builtins(heap)

    def kind(pc: int) -> str:
        m = next((m for m in executable if m["start"] <= pc < m["end"]), None)
        if m is None:
            return "other"
        if m.get("path") == heap.meta.module or builtins.contains(pc):
            return "v8"
        return "jit" if not m.get("path") else "other"

    return kind


def _merge(
    frames: list[dict[str, Any]], found: list[JSFrame], snap: dict[str, Any], notes: list[str]
) -> None:
    """Put each JS frame on the next native frame with its pc. When the native unwind stopped
    (``frames_cut``: JIT code without unwind information), the JS frames after the last one
    placed are appended: V8's frame chain goes on where CFI could not."""
    at, missed, tail = 0, 0, []
    for js in found:
        k = _next_with_pc(frames, at, js.pc)
        if k is None:
            tail.append(js)
            continue
        _name(frames[k], js)
        at, missed = k + 1, missed + len(tail)
        tail = []
    thread: dict[str, Any] = next((t for t in snap["threads"] if t.get("frames") is frames), {})
    if tail and (thread.get("frames_cut") or at == len(frames)):
        first = len(frames)
        pcs = [(js.pc, js) for js in tail if js.pc is not None]
        frames.extend(_new_frame(first + i, pc, js, snap) for i, (pc, js) in enumerate(pcs))
        notes.append(
            f"JS frames #{first}.. come from V8's frame chain past the end of the native "
            "unwind (native frames between them are not shown)"
        )
    else:
        missed += len(tail)
    if missed:
        notes.append(f"JS frames: {missed} found on the stack matched no native frame")


def _next_with_pc(frames: list[dict[str, Any]], start: int, pc: int | None) -> int | None:
    if pc is None:
        return None
    return next((i for i in range(start, len(frames)) if frames[i].get("pc") == pc), None)


def _name(frame: dict[str, Any], js: JSFrame) -> None:
    native = frame.get("function")
    frame["js"] = {"kind": js.kind, "native": native}
    # An anonymous builtin closure (an await's reject handler) says more by its native name.
    anonymous_builtin = js.kind == "builtin" and js.function == ANONYMOUS and native
    if "function_start" in frame:
        frame["function_start"] = None  # it was the native function's (the interpreter's entry)
    frame.update(
        function=native if anonymous_builtin else js.function,
        function_offset=None,
        file=js.script,
        line=js.line,
        column=js.column,
        language="js",
        variables=[],
    )


def _new_frame(index: int, pc: int, js: JSFrame, snap: dict[str, Any]) -> dict[str, Any]:
    module = next((m for m in snap.get("modules") or [] if m["start"] <= pc < m["end"]), None)
    frame: dict[str, Any] = {
        "index": index,
        "pc": pc,
        "module": module["path"] if module else None,
        "build_id": module.get("build_id") if module else None,
        "module_offset": pc - module["start"] if module else None,
        "function": None,
        "inline": False,
        "trusted": False,
    }
    _name(frame, js)
    return frame
