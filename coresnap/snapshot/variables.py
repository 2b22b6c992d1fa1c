"""Render drgn objects as bounded JSON values for a snapshot's ``variables``.

A variable becomes ``{name, kind, type, value, address, location, cut, ...}``: ints, bools,
enums and floats as JSON numbers (enums also get ``display``: the enumerator), pointers as their
address plus ``points_to`` (symbol or mapping) and ``string`` for ``char *``, char arrays as
text, structs/unions/arrays as nested JSON down to :class:`Bounds` limits; the C strings that
``char *`` members point to go in ``strings``, by their path (``.name``, ``->file.path``). "Optimized out"
stays ``optimized_out: true`` with a null value. Every bound that bites is named in ``cut``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import drgn
from drgn import Object, TypeKind

from coresnap.snapshot.bounds import Bounds

Describe = Callable[[int], str | None]
_AGGREGATES = (TypeKind.STRUCT, TypeKind.UNION, TypeKind.CLASS)
MAX_MEMBER_STRINGS = 16  # ``char *`` members read per variable (each is a read of the core)
# drgn raises these for unreadable memory, absent values and DWARF it does not support (C++
# reference types in 0.3.0 are BadDataError); one bad variable must never cost the stack.
_READ_ERRORS = (
    drgn.FaultError,
    drgn.ObjectAbsentError,
    drgn.OutOfBoundsError,
    drgn.BadDataError,
    LookupError,
    ValueError,
    TypeError,
    NotImplementedError,
)


def _is_char(t: drgn.Type) -> bool:
    t = t.unaliased()
    return t.kind == TypeKind.INT and t.size == 1 and "char" in (t.name or "")


class Renderer:
    """Renders variables of one program under ``bounds``; appends every cut to ``cuts``."""

    def __init__(self, prog: drgn.Program, bounds: Bounds, describe: Describe) -> None:
        self.prog = prog
        self.bounds = bounds
        self.describe = describe
        self.cut_count = 0
        self._strings: dict[str, str] = {}

    def variable(self, obj: Object, name: str, kind: str, follow: int) -> dict[str, Any]:
        """One variable record; never raises for unreadable or absent values."""
        # Each drgn attribute read makes a new Python object (and ``kind`` an enum member):
        # a 64-thread core has thousands of variables, so each is read once here.
        typ = obj.type_
        address = obj.address_
        var: dict[str, Any] = {
            "name": name,
            "kind": kind,
            "type": _type_name(typ),
            "value": None,
            "address": address,
            "location": "memory" if address is not None else "value",
            "cut": None,
        }
        if obj.absent_:
            var.update(optimized_out=True, location=None)
            return var
        t = typ.unaliased()
        type_kind = t.kind
        cuts: list[str] = []
        self._strings = {}
        try:
            var["value"] = self._value(obj, t, type_kind, 0, cuts, "")
            if type_kind == TypeKind.POINTER:
                self._pointer_extras(obj, t, var, follow, cuts)
        except _READ_ERRORS as e:
            var["value"] = None
            cuts.append(f"unreadable: {type(e).__name__}: {e}")
        if self._strings:
            var["strings"] = self._strings
        if type_kind == TypeKind.ENUM and isinstance(var["value"], int):
            var["display"] = _enumerator(t, var["value"])
        if cuts:
            var["cut"] = "; ".join(list(dict.fromkeys(cuts))[:4])
            self.cut_count += 1
        return var

    def value(self, obj: Object, depth: int, cuts: list[str], path: str) -> Any:
        """The JSON value of ``obj`` at ``path`` in its variable (raises drgn read errors for the
        caller to record)."""
        if obj.absent_:
            return None
        t = obj.type_.unaliased()
        return self._value(obj, t, t.kind, depth, cuts, path)

    def _value(
        self, obj: Object, t: drgn.Type, kind: TypeKind, depth: int, cuts: list[str], path: str
    ) -> Any:
        """``value`` of a present ``obj`` whose unaliased type ``t`` is of ``kind``."""
        if kind in (TypeKind.INT, TypeKind.BOOL, TypeKind.ENUM):
            return int(obj.value_())
        if kind == TypeKind.FLOAT:
            f = float(obj.value_())
            return f if math.isfinite(f) else repr(f)
        if kind == TypeKind.POINTER:
            address = int(obj.value_())
            if path and address and _is_char(t.type) and len(self._strings) < MAX_MEMBER_STRINGS:
                text = self._c_string(address, cuts)
                if text is not None:
                    self._strings[path] = text
            return address
        if kind == TypeKind.FUNCTION:
            return obj.address_
        if kind == TypeKind.ARRAY:
            return self._array(obj, t, depth, cuts, path)
        if kind in _AGGREGATES:
            return self._aggregate(obj, t, depth, cuts, path)
        return None

    def _array(self, obj: Object, t: drgn.Type, depth: int, cuts: list[str], path: str) -> Any:
        length = t.length or 0
        if _is_char(t.type):
            raw = obj.to_bytes_()
            text = raw.split(b"\0", 1)[0]
            if len(text) > self.bounds.max_string:
                cuts.append(f"string: {self.bounds.max_string} of {len(text)} bytes")
                text = text[: self.bounds.max_string]
            return text.decode("utf-8", errors="backslashreplace")
        if depth >= self.bounds.max_depth:
            cuts.append(f"depth: array below depth {self.bounds.max_depth}")
            return None
        n = min(length, self.bounds.max_array)
        if n < length:
            cuts.append(f"array: {n} of {length} elements")
        return [self._safe(obj[i], depth + 1, cuts, f"{path}[{i}]") for i in range(n)]

    def _aggregate(self, obj: Object, t: drgn.Type, depth: int, cuts: list[str], path: str) -> Any:
        if depth >= self.bounds.max_depth:
            cuts.append(f"depth: struct below depth {self.bounds.max_depth}")
            return None
        members = t.members or ()
        if len(members) > self.bounds.max_members:
            cuts.append(f"members: {self.bounds.max_members} of {len(members)}")
        out: dict[str, Any] = {}
        for i, m in enumerate(members[: self.bounds.max_members]):
            if m.name is None:
                if obj.address_ is None:
                    continue
                sub = Object(self.prog, m.type, address=obj.address_ + (m.bit_offset // 8))
                key = f"<anonymous {i}>"
            else:
                sub = obj.member_(m.name)
                key = m.name
            out[key] = self._safe(sub, depth + 1, cuts, _member_path(path, key))
        return out

    def _safe(self, obj: Object, depth: int, cuts: list[str], path: str) -> Any:
        try:
            return self.value(obj, depth, cuts, path)
        except _READ_ERRORS as e:
            cuts.append(f"unreadable: {e}")
            return None

    def _pointer_extras(
        self, obj: Object, t: drgn.Type, var: dict[str, Any], follow: int, cuts: list[str]
    ) -> None:
        """``points_to``, and ``string`` or ``deref``, of a pointer ``obj`` (unaliased type ``t``)."""
        if not isinstance(var["value"], int):
            return
        address = var["value"]
        if address == 0:
            var["points_to"] = "NULL"
            return
        var["points_to"] = self.describe(address)
        target = t.type.unaliased()
        if _is_char(target):
            var["string"] = self._c_string(address, cuts)
        elif follow > 0 and target.kind in (*_AGGREGATES, TypeKind.INT, TypeKind.FLOAT):
            try:
                var["deref"] = self.value(obj[0], 1, cuts, "->")
            except _READ_ERRORS as e:
                cuts.append(f"deref unreadable: {e}")

    def _c_string(self, address: int, cuts: list[str]) -> str | None:
        limit = self.bounds.max_string
        try:
            raw = self.prog.read_c_string(address, max_size=limit + 1)
        except drgn.FaultError as e:
            cuts.append(f"string unreadable at {e.address:#x}")
            return None
        if len(raw) > limit:
            cuts.append(f"string: first {limit} bytes")
            raw = raw[:limit]
        return raw.decode("utf-8", errors="backslashreplace")


def _member_path(path: str, key: str) -> str:
    return f"{path}{key}" if path.endswith("->") else f"{path}.{key}"


def _type_name(t: drgn.Type) -> str | None:
    try:
        name = t.type_name()
    except (ValueError, TypeError):
        return None
    return name if len(name) <= 200 else name[:200] + "…"


def _enumerator(t: drgn.Type, value: int) -> str | None:
    for e in t.enumerators or ():
        if e.value == value:
            return e.name
    return None
