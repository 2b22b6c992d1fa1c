"""The uncaught JS exception of a Node.js core: its value, type and message, and where V8 says
it was thrown.

When nobody catches an exception V8 makes a ``JSMessageObject`` for it (Isolate::CreateMessage:
its ``argument`` is the exception, its script and start position the throw site, which for a
promise rejection is where the Error was made) and, with ``--abort-on-uncaught-exception``,
aborts while the aborting C++ frames still hold it; Node's own fatal path
(``node::errors::TriggerUncaughtException``) holds one the same way. It is looked for on the
crashed thread's stack and in its registers, directly or through a handle, and taken only for
what its map says it is.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from typing import Any

from coresnap.analysis.v8.heap import MAX_STRING, Heap
from coresnap.analysis.v8.objects import ANONYMOUS, bytecode_position, function_info, line_column

SCAN_BYTES = 16 * 1024  # stack above sp searched for the message
MAX_STACK = 8192  # characters read of a formatted err.stack
MAX_STACK_FRAMES = 16
_NEXT_HANDLES = 8  # handle slots after a held handle searched for the message's
_MAX_DESCRIPTORS = 128
_MAX_BACK_POINTERS = 64
_WORD = 8
# One frame of V8's formatted stack (src/objects/call-site-info.cc SerializeJSStackFrame):
# "    at fn (file:line:col)", "    at file:line:col", "    at async fn (...)", "    at new C (...)".
_STACK_LINE = re.compile(
    r"^\s+at (?:(?:async |new )?(?P<function>[^\n]*?) \()?"
    r"(?P<file>[^\n()]+?):(?P<line>\d+):(?P<column>\d+)\)?$",
    re.MULTILINE,
)


def find_message(heap: Heap, sp: int, registers: dict[str, int], stack_end: int) -> int | None:
    """The innermost JSMessageObject the crashed thread holds, or None: a register or a stack
    word that is the object or a handle to it, else a handle made just after one the thread
    holds (CreateMessage makes the message's handle right after the exception's, in the same
    HandleScope block, and the aborting frames may keep only the exception's)."""
    words = list(registers.values())
    for address in range(sp - sp % _WORD, min(sp + SCAN_BYTES, stack_end), _WORD):
        word = heap.word(address)
        if word is not None:
            words.append(word)
    handles = []
    for word in words:
        target = heap.word(word) if word % _WORD == 0 else None
        for candidate in (word, target):
            message = heap.typed(candidate, "JSMessageObject__JS_MESSAGE_OBJECT_TYPE")
            if message is not None:
                return message
        if heap.is_object(target):
            handles.append(word)
    for handle in handles:
        for slot in range(handle + _WORD, handle + _WORD * (_NEXT_HANDLES + 1), _WORD):
            message = heap.typed(heap.word(slot), "JSMessageObject__JS_MESSAGE_OBJECT_TYPE")
            if message is not None:
                return message
    return None


def constructor_name(heap: Heap, obj: int) -> str | None:
    """The name of the function that made ``obj``: its map's constructor, past the back
    pointers of map transitions (Map::GetConstructor)."""
    value = heap.slot(obj, "HeapObject__map__Map")
    for _ in range(_MAX_BACK_POINTERS):
        the_map = heap.typed(value, "Map__MAP_TYPE")
        if the_map is None:
            break
        value = heap.slot(the_map, "Map__constructor_or_back_pointer__Object")
    function = value if heap.is_object(value) else None
    shared = heap.typed(
        heap.slot(function, "JSFunction__shared__SharedFunctionInfo"),
        "SharedFunctionInfo__SHARED_FUNCTION_INFO_TYPE",
    )
    info = function_info(heap, shared) if shared is not None else None
    return info.name if info is not None else None


def own_properties(heap: Heap, obj: int) -> Iterator[tuple[int | None, int | None]]:
    """(key, value) of the own data properties of a fast-mode object (Map → DescriptorArray →
    PropertyDetails); a value stored out of object (in a PropertyArray, whose layout the
    metadata omits) is None."""
    m = heap.meta
    the_map = heap.typed(heap.slot(obj, "HeapObject__map__Map"), "Map__MAP_TYPE")
    bits = heap.field(the_map, m["class_Map__bit_field3__int"], 4)
    table = heap.slot(the_map, "Map__instance_descriptors__DescriptorArray")
    if the_map is None or bits is None or not heap.is_object(table):
        return
    if bits >> m["bit_field3_is_dictionary_map_shift"] & 1:
        return  # dictionary mode: the properties are in a hash table
    count = (bits & m["bit_field3_number_of_own_descriptors_mask"]) >> m[
        "bit_field3_number_of_own_descriptors_shift"
    ]
    for i in range(min(count, _MAX_DESCRIPTORS)):
        entry = m["class_DescriptorArray__header_size__uintptr_t"] + i * m["prop_desc_size"] * _WORD
        key = heap.field(table, entry + m["prop_desc_key"] * _WORD)
        details = heap.smi(heap.field(table, entry + m["prop_desc_details"] * _WORD))
        if details is None or details & m["prop_kind_mask"] != m["prop_kind_Data"]:
            continue
        location = (details & m["prop_location_mask"]) >> m["prop_location_shift"]
        if location == m["prop_location_Descriptor"]:
            yield key, heap.field(table, entry + m["prop_desc_value"] * _WORD)
        else:
            index = (details & m["prop_index_mask"]) >> m["prop_index_shift"]
            yield key, _in_object_field(heap, obj, the_map, index)


def _in_object_field(heap: Heap, obj: int, the_map: int, index: int) -> int | None:
    m = heap.meta
    size = heap.field(the_map, m["class_Map__instance_size_in_words__char"], 1)
    start = heap.field(
        the_map, m["class_Map__inobject_properties_start_or_constructor_function_index__char"], 1
    )
    if size is None or start is None or not 0 <= index < size - start:
        return None
    return heap.field(obj, (start + index) * _WORD)


def describe_value(heap: Heap, value: int | None) -> dict[str, Any] | None:
    """What was thrown: ``{"type", "message"}`` for an Error (type = its constructor, and the
    frames of its formatted ``stack`` when V8 kept one), a string, a number, an oddball (null,
    undefined, true, false) or another object."""
    if heap.is_smi(value):
        return {"type": "number", "message": str(heap.smi(value))}
    if heap.is_string(value):
        return {"type": "string", "message": heap.string(value)}
    oddball = heap.typed(value, "Oddball__ODDBALL_TYPE")
    if oddball is not None:
        text = heap.string(heap.slot(oddball, "Oddball__to_string__String"))
        return {"type": text, "message": None} if text else None
    number = heap.typed(value, "HeapNumber__HEAP_NUMBER_TYPE")
    if number is not None:
        data = heap.body(number, heap.meta["class_HeapNumber__value__double"], 8)
        return {"type": "number", "message": _double(data)} if data else None
    if value is None or not heap.is_object(value):
        return None
    return _object(heap, value)


def _object(heap: Heap, obj: int) -> dict[str, Any]:
    found: dict[str, Any] = {"type": constructor_name(heap, obj) or "Object", "message": None}
    for key, item in own_properties(heap, obj):
        text = heap.string(item, MAX_STACK) if heap.is_string(item) else None
        if text is None:
            continue
        if heap.is_string(key) and heap.string(key) == "message":
            found["message"] = text[:MAX_STRING]
        elif "stack" not in found and _STACK_LINE.search(text):
            # V8 keeps the formatted err.stack (once something read it, as Node's fatal
            # handler does) under a private symbol: the frames where the Error was made.
            found["stack"] = _stack_frames(text)
    return found


def _stack_frames(text: str) -> list[dict[str, Any]]:
    frames = []
    for match in _STACK_LINE.finditer(text):
        frames.append(
            {
                "function": match["function"] or ANONYMOUS,
                "file": match["file"],
                "line": int(match["line"]),
                "column": int(match["column"]),
            }
        )
        if len(frames) >= MAX_STACK_FRAMES:
            break
    return frames


def _double(data: bytes) -> str:
    number = struct.unpack("<d", data)[0]
    return str(int(number)) if number.is_integer() else repr(number)


def thrown_at(heap: Heap, message: int) -> dict[str, Any] | None:
    """The throw site V8 recorded in the message (script, line, column): its start position,
    or, while V8 has not computed it yet (-1), the bytecode offset in ``shared_info``."""
    facts = heap.meta.layout["js_message_object"]
    script = heap.typed(heap.field(message, facts["script"]), "Script__SCRIPT_TYPE")
    position = heap.smi(heap.slot(message, "JSMessageObject__start_position__SMI"))
    if position is not None and position < 0:
        position = _lazy_position(heap, message)
    if script is None or position is None or position < 0:
        return None
    name = heap.string(heap.slot(script, "Script__name__Object"))
    place = line_column(heap, script, position)
    if not name or place is None:
        return None  # a script without a name: eval'd code, or JSON.parse's text
    return {"file": name, "line": place[0], "column": place[1], "position": position}


def _lazy_position(heap: Heap, message: int) -> int | None:
    shared = heap.typed(
        heap.slot(message, "JSMessageObject__shared_info__HeapObject"),
        "SharedFunctionInfo__SHARED_FUNCTION_INFO_TYPE",
    )
    offset = heap.smi(heap.slot(message, "JSMessageObject__bytecode_offset__Smi"))
    code = heap.typed(
        heap.slot(shared, "SharedFunctionInfo__function_data__Object"),
        "BytecodeArray__BYTECODE_ARRAY_TYPE",
    )
    return (
        bytecode_position(heap, code, offset) if code is not None and offset is not None else None
    )


def uncaught(
    heap: Heap, sp: int, registers: dict[str, int], stack_end: int
) -> dict[str, Any] | None:
    """The exception and throw site of the crashed thread's uncaught-exception message."""
    message = find_message(heap, sp, registers, stack_end)
    if message is None:
        return None
    argument = heap.field(message, heap.meta.layout["js_message_object"]["argument"])
    found: dict[str, Any] = {"exception": describe_value(heap, argument)}
    site = thrown_at(heap, message)
    if site is not None:
        found["thrown_at"] = site
    return found
