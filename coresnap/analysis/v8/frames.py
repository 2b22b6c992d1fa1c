"""V8's JS frames on the crashed thread's stack, the way llnode and mdb_v8 find them.

Every V8 frame keeps a frame pointer (V8 builds with them, and Node's C++ too): ``[fp]`` is the
caller's fp, ``[fp + 8]`` the return address into the caller's code. In a JS frame the slot at
``v8dbg_off_fp_context_or_frame_type`` holds a Context (a typed frame holds a small Smi
marker there instead) and ``v8dbg_off_fp_function`` the JSFunction. An interpreted frame also
holds its BytecodeArray and the current bytecode offset, which the BytecodeArray's source
position table turns into a script offset. A frame whose code V8 compiled (Sparkplug, Maglev,
Turbofan) keeps its position in the code object, which this module does not decode: such a
frame gets its function and script, no line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from coresnap.analysis.v8.heap import Heap
from coresnap.analysis.v8.objects import bytecode_position, function_info, line_column

MAX_LINKS = 4096  # frames followed on one stack
_WORD = 8

# Where a frame's code runs: "v8" (the V8 binary's text: builtins, the interpreter), "jit"
# (anonymous executable memory: code V8 compiled) or "other".
CodeKind = Callable[[int], str]


@dataclass(frozen=True)
class Link:
    """One frame of the frame-pointer chain: its fp and the pc of its code (the return
    address its callee saved; None for the chain's first frame, whose callee is unknown)."""

    fp: int
    pc: int | None


@dataclass(frozen=True)
class JSFrame:
    """A decoded JS frame."""

    fp: int
    pc: int | None
    function: str
    script: str | None
    line: int | None
    column: int | None
    kind: str  # "interpreted", "compiled" (JIT code), "builtin" (no script) or "other"
    shared: int  # the SharedFunctionInfo's address (the message object names the thrower so)
    position: int | None  # offset in the script


def chain(heap: Heap, fp: int, stack: tuple[int, int], pc: int | None = None) -> list[Link]:
    """The frame-pointer chain from ``fp``, while it stays in ``stack`` and goes up."""
    links: list[Link] = []
    low, high = stack
    while len(links) < MAX_LINKS and low <= fp < high and fp % _WORD == 0:
        links.append(Link(fp, pc))
        caller, ret = heap.word(fp), heap.word(fp + _WORD)
        if caller is None or ret is None or caller <= fp:
            break
        fp, pc = caller, ret
    return links


def is_js_frame(heap: Heap, fp: int) -> int | None:
    """The SharedFunctionInfo of the JS frame at ``fp``, or None if it is not one: its context
    slot must hold a Context and its function slot a JSFunction with a SharedFunctionInfo."""
    meta = heap.meta
    context = heap.word(fp + meta["off_fp_context_or_frame_type"])
    kind = heap.instance_type(context)
    if kind is None or not meta["FirstContextType"] <= kind <= meta["LastContextType"]:
        return None
    function = heap.word(fp + meta["off_fp_function"])
    if not heap.is_object(function):
        return None
    shared = heap.slot(function, "JSFunction__shared__SharedFunctionInfo")
    return heap.typed(shared, "SharedFunctionInfo__SHARED_FUNCTION_INFO_TYPE")


def bytecode_offset(heap: Heap, fp: int) -> tuple[int, int] | None:
    """(BytecodeArray, offset) of an interpreted frame; None if the slots do not hold them.
    The frame keeps ``offset + BytecodeArray::kHeaderSize - kHeapObjectTag`` (frames.cc
    InterpretedFrame::GetBytecodeOffset); kHeaderSize is where ``data`` starts."""
    meta = heap.meta
    array = heap.typed(
        heap.word(fp + meta["off_fp_bytecode_array"]), "BytecodeArray__BYTECODE_ARRAY_TYPE"
    )
    raw = heap.smi(heap.word(fp + meta["off_fp_bytecode_offset"]))
    length = heap.smi(heap.slot(array, "FixedArrayBase__length__SMI"))
    if array is None or raw is None or length is None:
        return None
    offset = raw - (meta["class_BytecodeArray__data__uintptr_t"] - meta["HeapObjectTag"])
    return (array, offset) if 0 <= offset < length else None


def decode(heap: Heap, link: Link, code_kind: CodeKind, notes: list[str]) -> JSFrame | None:
    """The JS frame at ``link``, or None if it is not one (or its function is unreadable)."""
    shared = is_js_frame(heap, link.fp)
    if shared is None:
        return None
    info = function_info(heap, shared)
    if info is None:
        notes.append(f"JS frame at fp {link.fp:#x}: function name not readable (layout?)")
        return None
    where = code_kind(link.pc) if link.pc is not None else "other"
    found = bytecode_offset(heap, link.fp) if where == "v8" else None
    if found is None:
        kind = "compiled" if where == "jit" else "builtin" if info.script is None else "other"
        return JSFrame(
            link.fp, link.pc, info.name, info.script_name, None, None, kind, shared, None
        )
    position = bytecode_position(heap, *found)
    place = None
    if position is not None and info.script is not None:
        place = line_column(heap, info.script, position)
    line, column = place if place is not None else (None, None)
    return JSFrame(
        link.fp, link.pc, info.name, info.script_name, line, column, "interpreted", shared, position
    )


def scanned_chain(heap: Heap, sp: int, stack: tuple[int, int], limit: int) -> list[Link]:
    """The chain from the frame just inside the first JS frame above ``sp`` (scanning ``limit``
    bytes), for a thread whose frame-pointer register is not V8's (libc's abort and raise keep
    none). Starting one frame inside gives the JS frame its pc: the return address its callee
    saved next to the saved fp that points at it."""
    words: dict[int, int] = {}
    for fp in range(sp - sp % _WORD, min(sp + limit, stack[1] - 2 * _WORD), _WORD):
        caller = heap.word(fp)
        if caller is None or not fp < caller < stack[1]:
            continue
        words[fp] = caller
        if is_js_frame(heap, fp) is None:
            continue
        callee = max((slot for slot, saved in words.items() if saved == fp), default=None)
        return chain(heap, callee if callee is not None else fp, stack)
    return []


def js_frames(
    heap: Heap, links: list[Link], code_kind: CodeKind, notes: list[str]
) -> list[JSFrame]:
    """The JS frames among ``links``, innermost first."""
    out = []
    for link in links:
        frame = decode(heap, link, code_kind, notes)
        if frame is not None:
            out.append(frame)
    return out
