"""Tagged values of the dumped V8 heap, read through the metadata: Smis, maps, strings, arrays.

Every read is bounded and checked: an object is only taken for what its map's instance type
says it is (``v8dbg_type_*``), so a stale or garbage word yields None, never a wrong name.
Methods take ``None`` for "no value" and pass it on, so a chain of reads needs one check.
"""

from __future__ import annotations

import struct

from coresnap.analysis.v8.metadata import Metadata, Read

MAX_STRING = 1024  # characters kept of a name, a message or a script path
MAX_ARRAY = 1 << 20  # elements read of one FixedArray (line ends of a 1M-line bundle)
_MAX_DEPTH = 32  # cons/thin/sliced string links followed
_MAX_LENGTH = 1 << 30  # V8's String::kMaxLength is below this


class Heap:
    """Read V8 objects from process memory (``read(address, size) -> bytes | None``)."""

    def __init__(self, meta: Metadata, read: Read) -> None:
        self.meta = meta
        self._read = read
        self._tag = meta["HeapObjectTag"]
        self._tag_mask = meta["HeapObjectTagMask"]
        self._smi_shift = meta["SmiShiftSize"] + meta["SmiValueShift"]
        self._arrays: dict[int, list[int] | None] = {}

    # --- raw memory ---------------------------------------------------------------------

    def read(self, address: int, size: int) -> bytes | None:
        if not 0 < address < 1 << 64 or size < 0:
            return None
        if size == 0:
            return b""  # an empty string's characters: some readers refuse a 0-byte read
        data = self._read(address, size)
        return data if data is not None and len(data) == size else None

    def word(self, address: int | None) -> int | None:
        data = self.read(address, 8) if address is not None else None
        return struct.unpack("<Q", data)[0] if data else None

    def field(self, obj: int | None, offset: int, size: int = 8) -> int | None:
        """The ``size``-byte unsigned field at ``offset`` of the tagged object pointer ``obj``."""
        if obj is None:
            return None
        data = self.read(obj - self._tag + offset, size)
        return int.from_bytes(data, "little") if data else None

    def body(self, obj: int, offset: int, size: int) -> bytes | None:
        """``size`` bytes of ``obj`` from ``offset`` (a string's characters, an array's data)."""
        return self.read(obj - self._tag + offset, size)

    # --- tagged values ------------------------------------------------------------------

    def is_object(self, value: int | None) -> bool:
        return value is not None and value & self._tag_mask == self._tag

    def is_smi(self, value: int | None) -> bool:
        meta = self.meta
        return value is not None and value & meta["SmiTagMask"] == meta["SmiTag"]

    def smi(self, value: int | None) -> int | None:
        """The integer of a Smi (V8 without pointer compression: the upper 32 bits, signed)."""
        if value is None or not self.is_smi(value):
            return None
        signed = value - (1 << 64) if value >= 1 << 63 else value
        return signed >> self._smi_shift

    def instance_type(self, value: int | None) -> int | None:
        """The instance type in the map of heap object ``value``; None if it is not one."""
        if not self.is_object(value):
            return None
        the_map = self.field(value, self.meta["class_HeapObject__map__Map"])
        if not self.is_object(the_map):
            return None
        return self.field(the_map, self.meta["class_Map__instance_type__uint16_t"], 2)

    def typed(self, value: int | None, type_name: str) -> int | None:
        """``value`` if it is a heap object of ``v8dbg_type_<type_name>``, else None."""
        expected = self.meta.get(f"type_{type_name}")
        ok = expected is not None and self.instance_type(value) == expected
        return value if ok else None

    def slot(self, obj: int | None, name: str) -> int | None:
        """The tagged field ``v8dbg_class_<name>`` of ``obj``."""
        offset = self.meta.get(f"class_{name}")
        return None if offset is None else self.field(obj, offset)

    # --- strings and arrays -------------------------------------------------------------

    def is_string(self, value: int | None) -> bool:
        kind = self.instance_type(value)
        return kind is not None and kind < self.meta["FirstNonstringType"]

    def string(self, value: int | None, limit: int = MAX_STRING) -> str | None:
        """The text of a V8 string (sequential, cons, thin or sliced), at most ``limit``
        characters; None for a non-string or an external string (its bytes live in a C++
        resource object the metadata does not describe)."""
        parts: list[str] = []
        if value is None or not self._string(value, limit, parts, 0):
            return None
        return "".join(parts)[:limit]

    def _string(self, obj: int, limit: int, out: list[str], depth: int) -> bool:
        kind = self.instance_type(obj)
        meta = self.meta
        if kind is None or kind >= meta["FirstNonstringType"] or depth > _MAX_DEPTH:
            return False
        length = self.field(obj, meta["class_String__length__int32_t"], 4)
        if length is None or length > _MAX_LENGTH:
            return False
        representation = kind & meta["StringRepresentationMask"]
        if representation == meta["SeqStringTag"]:
            return self._sequential(obj, kind, min(length, limit), out)
        if representation == meta["ThinStringTag"]:
            actual = self.slot(obj, "ThinString__actual__String")
            return actual is not None and self._string(actual, limit, out, depth + 1)
        if representation == meta["ConsStringTag"]:
            return self._cons(obj, limit, out, depth)
        if representation == meta["SlicedStringTag"]:
            return self._sliced(obj, min(length, limit), out, depth)
        return False  # external

    def _sequential(self, obj: int, kind: int, count: int, out: list[str]) -> bool:
        meta = self.meta
        if kind & meta["StringEncodingMask"] == meta["OneByteStringTag"]:
            data = self.body(obj, meta["class_SeqOneByteString__chars__char"], count)
            text = data.decode("latin-1") if data is not None else None
        else:
            data = self.body(obj, meta["class_SeqTwoByteString__chars__char"], 2 * count)
            text = data.decode("utf-16-le", errors="replace") if data is not None else None
        if text is not None:
            out.append(text)
        return text is not None

    def _cons(self, obj: int, limit: int, out: list[str], depth: int) -> bool:
        first = self.slot(obj, "ConsString__first__String")
        if first is None or not self._string(first, limit, out, depth + 1):
            return False
        done = sum(len(p) for p in out)
        second = self.slot(obj, "ConsString__second__String")
        return done >= limit or (
            second is not None and self._string(second, limit - done, out, depth + 1)
        )

    def _sliced(self, obj: int, count: int, out: list[str], depth: int) -> bool:
        offset = self.smi(self.slot(obj, "SlicedString__offset__SMI"))
        parent = self.slot(obj, "SlicedString__parent__String")
        whole: list[str] = []
        if offset is None or offset < 0 or parent is None:
            return False
        if not self._string(parent, offset + count, whole, depth + 1):
            return False
        out.append("".join(whole)[offset : offset + count])
        return True

    def smi_array(self, value: int | None) -> list[int] | None:
        """The elements of a FixedArray of Smis (a script's line ends), cached by address."""
        array = self.typed(value, "FixedArray__FIXED_ARRAY_TYPE")
        if array is None:
            return None
        if array not in self._arrays:
            self._arrays[array] = self._smi_array(array)
        return self._arrays[array]

    def _smi_array(self, array: int) -> list[int] | None:
        length = self.smi(self.slot(array, "FixedArrayBase__length__SMI"))
        if length is None or not 0 <= length <= MAX_ARRAY:
            return None
        data = self.body(array, self.meta["class_FixedArray__data__uintptr_t"], 8 * length)
        if data is None:
            return None
        values = []
        for (word,) in struct.iter_unpack("<Q", data):
            value = self.smi(word)
            if value is None:
                return None
            values.append(value)
        return values
