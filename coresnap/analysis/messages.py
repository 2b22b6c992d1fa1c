"""Messages a dying process leaves in memory: glibc's ``__abort_msg`` and the C++ exception.

glibc (assert/assert.c, sysdeps/posix/libc_fatal.c) formats assertion failures, malloc errors
and fortify/stack-protector failures into an mmap'd ``struct abort_msg_s { unsigned int size;
char msg[]; }`` and stores its address in the GLIBC_PRIVATE global ``__abort_msg`` just before
abort(), precisely so that core dumps carry the text. libstdc++ (unwind-cxx.h) puts a
``__cxa_exception`` header before every thrown object; its ``_Unwind_Exception`` carries the
class "GNUCC++\\0" and, 80 bytes before it, ``exceptionType`` (the ``std::type_info``); the
thrown object follows it (``__get_object_from_ue``). libstdc++'s own exceptions derived from
``std::logic_error`` and ``std::runtime_error`` keep their ``what()`` text in the member that
follows the vtable pointer, a ``__cow_string`` whose one word points at the characters
(stdexcept, kept so for the old ABI's sake).
"""

from __future__ import annotations

import functools
import os

from coresnap.analysis.context import DRGN_ERRORS, Context
from coresnap.analysis.demangle import demangle

MAX_MESSAGE = 4096
GNU_CXX_CLASS = (0x474E5543432B2B00, 0x474E5543432B2B01)  # "GNUCC++\0", dependent "…\1"
EXCEPTION_TYPE_OFFSET = 80  # offsetof(__cxa_exception, unwindHeader) on LP64
STACK_SCAN = 64 * 1024
UNWIND_EXCEPTION_SIZE = 32  # sizeof(_Unwind_Exception) on LP64 (4 words, 16-byte aligned)
MAX_WHAT = 1024
# The standard exceptions whose object is (vptr, __cow_string _M_msg, …): logic_error,
# runtime_error and their standard subclasses (stdexcept, system_error, ios_base::failure).
MESSAGE_EXCEPTIONS = frozenset(
    f"std::{name}"
    for name in (
        "logic_error", "domain_error", "invalid_argument", "length_error", "out_of_range",
        "future_error", "runtime_error", "range_error", "overflow_error", "underflow_error",
        "system_error", "ios_base::failure", "__ios_failure", "regex_error",
    )
)  # fmt: skip


@functools.lru_cache(maxsize=32)
def _dynsym(path: str, name: str) -> int | None:
    from elftools.common.exceptions import ELFError  # ~25 ms to import; rarely needed
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            section = elf.get_section_by_name(".dynsym")
            if not isinstance(section, SymbolTableSection):
                return None
            found = section.get_symbol_by_name(name)
            return int(found[0]["st_value"]) if found else None
    except (OSError, ELFError):  # a missing or malformed library: no symbol
        return None


def _libc_symbol(ctx: Context, name: str) -> int | None:
    if ctx.program is not None:
        try:
            return int(ctx.program[name].address_)
        except DRGN_ERRORS:  # no libc symbols: try its .dynsym below
            pass
    for module in ctx.snapshot.get("modules") or []:
        path = str(module.get("path") or "")
        if "/libc.so" not in path and "/libc-" not in path:
            continue
        bias = module.get("load_bias")
        bias = bias if isinstance(bias, int) else module.get("start")
        value = _dynsym(path, name) if os.path.isfile(path) else None
        if value is not None and isinstance(bias, int):
            return bias + value
    return None


def _c_string(ctx: Context, address: int, limit: int) -> str | None:
    data = ctx.read(address, limit)
    if data is None:
        # The string may end near a page end: fall back to reading byte by byte.
        out = bytearray()
        for i in range(limit):
            b = ctx.read(address + i, 1)
            if not b or b == b"\0":
                break
            out += b
        data = bytes(out)
    return data.split(b"\0", 1)[0].decode(errors="replace")


def abort_message(ctx: Context) -> str | None:
    """The text glibc stored in ``__abort_msg`` before abort(), or None."""
    where = _libc_symbol(ctx, "__abort_msg")
    pointer = ctx.word(where) if where else None
    if not pointer:
        return None
    size = ctx.read(pointer, 4)
    if size is None:
        return None
    length = min(int.from_bytes(size, "little"), MAX_MESSAGE)
    text = _c_string(ctx, pointer + 4, max(length - 4, 1))
    return text.strip() if text else None


def exception_type(ctx: Context) -> dict[str, object] | None:
    """The type of the C++ exception in flight, found from pointers on the crashed stack."""
    sp = ctx.sp
    stack = ctx.mapping_at(sp) if sp is not None else None
    if sp is None or stack is None:
        return None
    data = ctx.read(sp, min(STACK_SCAN, stack.end - sp)) or b""
    for i in range(0, len(data) - 7, 8):
        pointer = int.from_bytes(data[i : i + 8], "little")
        if pointer < 0x10000 or pointer % 8 or ctx.word(pointer) not in GNU_CXX_CLASS:
            continue
        type_info = ctx.word(pointer - EXCEPTION_TYPE_OFFSET)
        name_ptr = ctx.word(type_info + 8) if type_info else None
        mangled = _c_string(ctx, name_ptr, 256) if name_ptr else None
        if mangled:
            found: dict[str, object] = {
                "type": demangle(mangled.lstrip("*")),
                "mangled": mangled,
                "exception_header": pointer,
                "found_at": sp + i,
            }
            what = _what(ctx, pointer, str(found["type"]))
            if what:
                found["what"] = what
            return found
    return None


def _what(ctx: Context, header: int, type_name: str) -> str | None:
    """The ``what()`` text of a standard exception of type ``type_name`` whose unwind header
    is at ``header``; None for other types and for a dependent exception (std::rethrow of an
    exception_ptr: its object is elsewhere)."""
    if type_name not in MESSAGE_EXCEPTIONS or ctx.word(header) != GNU_CXX_CLASS[0]:
        return None
    message = ctx.word(header + UNWIND_EXCEPTION_SIZE + 8)  # after the object's vptr
    text = _c_string(ctx, message, MAX_WHAT) if message else None
    return text or None
