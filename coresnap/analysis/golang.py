"""The Go runtime's own record of a crash, read from the core: the crashed goroutine's ``g``
(the signal sigpanic saw), its ``_panic`` and the panic value's text as the runtime printed it.

Layouts come from the program's DWARF (:mod:`coresnap.analysis.dwarfname`); Go 1.17+ on
linux/amd64. Where things are (Go sources): the current ``g`` is at ``-8(FS)`` for a program
without cgo (runtime/sys_linux_amd64.s ``settls``) and in r14 in Go code (the register ABI,
cmd/compile/abi-internal.md); a signal handler runs on ``m.gsignal``, so the goroutine that
panicked is ``m.curg``. ``g.sig``, ``g.sigcode0``, ``g.sigcode1`` and ``g.sigpc`` are the signal,
its code, the fault address and the pc that sigpanic turned into a panic (runtime/signal_unix.go).
A panic value is an ``eface`` (type, data); the type's name is at ``moduledata.types + str``,
written as a flag byte, a varint length and the bytes (runtime/type.go ``name``).
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any

from coresnap.analysis.context import Context
from coresnap.analysis.dwarfname import data_symbol, member, struct_members
from coresnap.analysis.rules import hexa

MAX_TEXT = 4096
TFLAG_EXTRA_STAR = 1 << 1  # runtime/type.go: the name has a '*' the type does not
KIND_MASK = 0x1F  # runtime/typekind.go
KIND_BOOL, KIND_INT64, KIND_UINTPTR, KIND_STRING = 1, 6, 12, 24
# runtime/typekind.go: kinds 2-6 are int..int64, 7-12 uint..uintptr; their sizes in bytes.
INT_SIZES = {2: 8, 3: 1, 4: 2, 5: 4, 6: 8, 7: 8, 8: 1, 9: 2, 10: 4, 11: 8, 12: 8}
BASIC = {"bool", "string", "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16"}
BASIC |= {"uint32", "uint64", "uintptr"}


def _module(ctx: Context, path: str) -> int:
    """The load bias of the module ``path`` (0 for Go's default non-PIE executables)."""
    for m in ctx.snapshot.get("modules") or []:
        if m.get("path") == path:
            bias = m.get("load_bias")
            return bias if isinstance(bias, int) else 0
    return 0


def _string(ctx: Context, pointer: int | None, length: int | None) -> str | None:
    """A Go string (pointer, length) as text, or None when it cannot be read."""
    if pointer is None or length is None or not 0 <= length <= MAX_TEXT:
        return None
    data = ctx.read(pointer, length) if length else b""
    return data.decode(errors="replace") if data is not None else None


def goroutine(ctx: Context, path: str) -> dict[str, Any] | None:
    """The crashed goroutine's ``g``: its address, id, panic record and the signal sigpanic saw;
    None when no ``g`` can be found (a cgo thread, a stripped binary)."""
    g_at = struct_members(path, "runtime.g")
    m_at = struct_members(path, "runtime.m")
    if not g_at or not m_at or "m" not in g_at:
        return None
    regs = ctx.registers
    fs = regs.get("fs_base") or regs.get("fs.base")
    candidates = [ctx.word(fs - 8) if fs else None, regs.get("r14")]
    for g in [c for c in candidates if c]:
        m = ctx.word(g + g_at["m"])
        links = {n: ctx.word(m + m_at[n]) for n in ("g0", "gsignal", "curg") if m and n in m_at}
        if m and g in links.values():  # a real g: its m points back at it
            current = links.get("curg") or g
            return _g_facts(ctx, current, g_at)
    return None


def _g_facts(ctx: Context, g: int, g_at: dict[str, int]) -> dict[str, Any]:
    def field(name: str) -> int | None:
        return ctx.word(g + g_at[name]) if name in g_at else None

    sig = field("sig")
    facts: dict[str, Any] = {"g": hexa(g), "goid": field("goid"), "panic": field("_panic")}
    if sig and sig & 0xFFFFFFFF:
        facts["signal"] = {
            "number": sig & 0xFFFFFFFF,
            "code": field("sigcode0"),
            "address": hexa(field("sigcode1")),
            "pc": hexa(field("sigpc")),
        }
    return facts


def panic_arg(ctx: Context, path: str, record: int | None) -> tuple[int, int] | None:
    """The (type, data) words of the ``arg`` of the ``_panic`` record at ``record``."""
    at = member(struct_members(path, "runtime._panic"), "arg")
    if not record or at is None:
        return None
    typ, data = ctx.word(record + at), ctx.word(record + at + 8)
    return (typ, data) if typ and data is not None else None


def _type(ctx: Context, path: str, typ: int) -> tuple[str, int] | None:
    """The name and kind of the runtime type descriptor at ``typ``."""
    layout = struct_members(path, "internal/abi.Type", "runtime._type")
    md = data_symbol(path, "runtime.firstmoduledata")
    types_at = member(struct_members(path, "runtime.moduledata"), "types")
    at = [
        member(layout, *names) for names in (("Str", "str"), ("TFlag", "tflag"), ("Kind_", "kind"))
    ]
    raw = ctx.read(typ, 48)
    if md is None or types_at is None or raw is None:
        return None
    str_at, tflag_at, kind_at = at
    types = ctx.word(md + _module(ctx, path) + types_at)
    if types is None or str_at is None or tflag_at is None or kind_at is None:
        return None
    name = _type_name(ctx, types + int.from_bytes(raw[str_at : str_at + 4], "little", signed=True))
    if name is None:
        return None
    return name[1:] if raw[tflag_at] & TFLAG_EXTRA_STAR else name, raw[kind_at] & KIND_MASK


def _type_name(ctx: Context, address: int) -> str | None:
    header = ctx.read(address, 11)  # the flag byte and up to 10 bytes of varint length
    if header is None:
        return None
    length, shift, i = 0, 0, 1
    while i < len(header):
        length |= (header[i] & 0x7F) << shift
        shift, i = shift + 7, i + 1
        if not header[i - 1] & 0x80:
            break
    return _string(ctx, address + i, length)


@functools.cache
def _bounds_formats() -> dict[int, tuple[str, str]]:
    """runtime/error.go's boundsErrorFmt and boundsNegErrorFmt, by boundsErrorCode."""
    text = resources.files("coresnap.analysis.runtimes").joinpath("go_bounds.txt").read_text()
    out = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            code, positive, negative = line.split("\t")
            out[int(code)] = (positive, negative)
    return out


def _bounds(ctx: Context, path: str, data: int) -> str | None:
    """boundsError.Error(): "index out of range [5] with length 3" (runtime/error.go)."""
    at = struct_members(path, "runtime.boundsError")
    raw = ctx.read(data, 24)
    if not at or raw is None or not {"x", "y", "signed", "code"} <= set(at):
        return None
    x = int.from_bytes(raw[at["x"] : at["x"] + 8], "little", signed=True)
    y = int.from_bytes(raw[at["y"] : at["y"] + 8], "little", signed=True)
    signed, code = bool(raw[at["signed"]]), raw[at["code"]]
    formats = _bounds_formats().get(code)
    if formats is None:
        return None
    text = formats[1] if signed and x < 0 else formats[0]
    x_text = str(x) if signed or x >= 0 else str(x & (1 << 64) - 1)
    return "runtime error: " + re.sub("%[xy]", lambda m: x_text if m[0] == "%x" else str(y), text)


def _basic(ctx: Context, name: str, kind: int, data: int) -> str | None:
    """printpanicval/printanycustomtype (runtime/error.go) for strings, integers and bools."""
    if kind == KIND_STRING:
        text = _string(ctx, ctx.word(data), ctx.word(data + 8))
        return None if text is None else text if name == "string" else f'{name}("{text}")'
    size = INT_SIZES.get(kind) or (1 if kind == KIND_BOOL else None)
    raw = ctx.read(data, size) if size else None
    if raw is None:
        return None
    value: Any = int.from_bytes(raw, "little", signed=kind <= KIND_INT64)
    value = str(bool(value)).lower() if kind == KIND_BOOL else value
    return str(value) if name in BASIC else f"{name}({value})"


def panic_text(ctx: Context, path: str, typ: int, data: int) -> tuple[str | None, str | None]:
    """What the runtime printed after "panic: " for the value (type, data), and the type's
    name; the text is None for a type whose Error or String method would have to run."""
    found = _type(ctx, path, typ)
    if found is None:
        return None, None
    name, kind = found
    if name == "runtime.boundsError":
        return _bounds(ctx, path, data), name
    if name in ("runtime.errorString", "runtime.plainError"):
        text = _string(ctx, ctx.word(data), ctx.word(data + 8))
        prefix = "runtime error: " if name == "runtime.errorString" else ""
        return (prefix + text if text is not None else None), name
    if name in ("runtime.errorAddressString", "*errors.errorString", "*fmt.wrapError"):
        text = _string(ctx, ctx.word(data), ctx.word(data + 8))  # the message is the first field
        prefix = "runtime error: " if name.startswith("runtime.") else ""
        return (prefix + text if text is not None else None), name
    if kind in (KIND_STRING, KIND_BOOL) or kind in INT_SIZES:
        return _basic(ctx, name, kind, data), name
    return None, name


def throw_text(ctx: Context, frames: list[dict[str, Any]], index: int) -> str | None:
    """The constant string passed to ``runtime.throw``/``runtime.fatal`` (frame ``index``): its
    callers load it right before the call (``lea rax, [rip + s]; mov ebx, len(s)``: the string
    argument in AX and BX, cmd/compile/abi-internal.md), or pass their own argument on."""
    from coresnap.analysis.calls import string_argument

    for frame in frames[index + 1 : index + 4]:
        pc = frame.get("pc")
        found = string_argument(ctx, pc) if isinstance(pc, int) else None
        if found is not None:
            return _string(ctx, *found)
    return None
