"""What a JS frame's objects say: a function's name, its script, and a source position's line.

``SharedFunctionInfo`` → name (a String, or the function-name slot of its ``ScopeInfo``) and
``Script`` (name, line ends); ``BytecodeArray`` → source position of a bytecode offset. Offsets
and type tags come from the metadata; what it lacks (the ScopeInfo flag bits, the position
table's place and encoding) from the version's ``layouts.json`` entry, checked as it is used.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from coresnap.analysis.v8.heap import Heap

MAX_SOURCE = 16 << 20  # characters of a script's source read to find line ends ourselves
MAX_TABLE = 1 << 20  # bytes of one source position table
_MAX_LOCALS = 1 << 16
ANONYMOUS = "<anonymous>"


@dataclass(frozen=True)
class FunctionInfo:
    """A ``SharedFunctionInfo``: the name V8 shows in stack traces and its script."""

    name: str  # V8's DebugName: the name, else the inferred name, else "<anonymous>"
    script: int | None  # the Script object, None for builtins and native functions
    script_name: str | None


def _bits(value: int, field: list[int]) -> int:
    shift, width = field
    return (value >> shift) & ((1 << width) - 1)


def scope_info_names(heap: Heap, scope_info: int) -> tuple[str, str] | None:
    """(function name, inferred name) from a ScopeInfo (src/objects/scope-info.tq): its
    variable part holds the context locals' names and infos, then the optional slots the
    flags announce. Every slot walked over must have the type the layout promises, or None."""
    facts = heap.meta.layout["scope_info"]
    slot0 = scope_info - heap.meta["HeapObjectTag"] + facts["slot0_offset"]

    def slot(index: int) -> int | None:
        return heap.word(slot0 + heap.meta["TaggedSize"] * index)

    flags = heap.smi(slot(facts["flags_index"]))
    count = heap.smi(slot(heap.meta["scopeinfo_idx_ncontextlocals"]))
    if flags is None or count is None or not 0 <= count < _MAX_LOCALS:
        return None
    if _bits(flags, facts["scope_type"]) != facts["function_scope"]:
        return "", ""  # script, module or eval code: no function name
    index = heap.meta["scopeinfo_idx_first_vars"]
    inlined = count < facts["max_inlined_local_names"]
    if inlined and not all(heap.is_string(slot(index + i)) for i in range(min(count, 8))):
        return None
    index += count if inlined else 1
    if not all(heap.is_smi(slot(index + i)) for i in range(min(count, 8))):
        return None
    index += count + _bits(flags, facts["has_saved_class_variable"])
    name = ""
    if _bits(flags, facts["function_variable"]):
        value = slot(index)
        if heap.is_string(value):
            name = heap.string(value) or ""
        elif heap.smi(value) != 0:  # String|Zero: anything else means the layout is wrong
            return None
        index += 2
    inferred = ""
    if _bits(flags, facts["has_inferred_function_name"]):
        value = slot(index)
        inferred = heap.string(value) or "" if heap.is_string(value) else ""
    return name, inferred


def function_info(heap: Heap, shared: int) -> FunctionInfo | None:
    """The name and script of SharedFunctionInfo ``shared``; None when its name is unreadable."""
    value = heap.slot(shared, "SharedFunctionInfo__name_or_scope_info__Object")
    scope_info = heap.typed(value, "ScopeInfo__SCOPE_INFO_TYPE")
    names: tuple[str, str] | None = None
    if heap.is_string(value):
        names = (heap.string(value) or "", "")
    elif scope_info is not None:
        names = scope_info_names(heap, scope_info)
    elif heap.smi(value) == 0:  # SharedFunctionInfo::kNoSharedNameSentinel
        names = ("", "")
    if names is None:
        return None
    name = names[0] or names[1] or ANONYMOUS
    script = heap.typed(
        heap.slot(shared, "SharedFunctionInfo__script_or_debug_info__HeapObject"),
        "Script__SCRIPT_TYPE",
    )
    script_name = heap.string(heap.slot(script, "Script__name__Object"))
    return FunctionInfo(name, script, script_name or None)


def line_ends(heap: Heap, script: int) -> list[int] | None:
    """The offsets of the script's line ends: V8's own array (set once a stack trace or an
    error needed a line number), else found in the script's source."""
    ends = heap.smi_array(heap.slot(script, "Script__line_ends__Object"))
    if ends is not None:
        return ends
    source = heap.string(heap.slot(script, "Script__source__Object"), MAX_SOURCE)
    if source is None:
        return None
    found, at = [], source.find("\n")
    while at >= 0:
        found.append(at)
        at = source.find("\n", at + 1)
    # V8's Script::InitLineEnds ends the last line at the source's end.
    return [*found, len(source)] if not found or found[-1] != len(source) - 1 else found


def line_column(heap: Heap, script: int, position: int) -> tuple[int, int] | None:
    """1-based (line, column) of a script offset, as Node prints them (Script::GetPositionInfo)."""
    ends = line_ends(heap, script)
    if ends is None or not 0 <= position <= (ends[-1] if ends else 0):
        return None
    line = bisect.bisect_left(ends, position)
    start = ends[line - 1] + 1 if line > 0 else 0
    return line + 1, position - start + 1


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """One zig-zag VLQ integer of a source position table (source-position-table.cc
    EncodeInt: 7 bits a byte, low group first, bit 7 = more)."""
    value, shift = 0, 0
    while True:
        if at >= len(data) or shift > 63:
            raise ValueError("truncated source position table")
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if not byte & 0x80:
            return (value >> 1) ^ -(value & 1), at


def bytecode_position(heap: Heap, bytecode_array: int, offset: int) -> int | None:
    """The script offset of bytecode ``offset`` (AbstractCode::SourcePosition: the last table
    entry at or before it); None when the table is absent (V8 collects it lazily)."""
    facts = heap.meta.layout
    table = heap.typed(
        heap.field(bytecode_array, facts["bytecode_array"]["source_position_table"]),
        "ByteArray__BYTE_ARRAY_TYPE",
    )
    length = heap.smi(heap.slot(table, "FixedArrayBase__length__SMI"))
    if table is None or length is None or not 0 <= length <= MAX_TABLE:
        return None
    # A ByteArray's bytes follow the FixedArrayBase header, as a FixedArray's elements do.
    data = heap.body(table, heap.meta["class_FixedArray__data__uintptr_t"], length)
    if data is None:
        return None
    encoding = facts["source_position_table"]
    code, raw, found, at = encoding["first_code_offset"], 0, None, 0
    try:
        while at < len(data):
            delta, at = _varint(data, at)
            code += delta if delta >= 0 else -(delta + 1)  # negative: an expression position
            step, at = _varint(data, at)
            raw += step
            if code > offset:
                break
            found = raw
    except ValueError:
        return None
    if found is None or found & 1:  # bit 0: an external (file:line) position, not ours
        return None
    return _bits(found, encoding["script_offset"]) - encoding["script_offset_bias"]
