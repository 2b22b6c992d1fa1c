"""V8's postmortem metadata: the ``v8dbg_*`` constants a Node.js binary exports, read from the core.

V8's build (``tools/gen-postmortem-metadata.py``, the metadata llnode and mdb_v8 read) emits one
``int`` symbol per fact: frame layout (``v8dbg_off_fp_function``), frame type markers
(``v8dbg_frametype_EntryFrame``), instance types (``v8dbg_type_Script__SCRIPT_TYPE``), field
offsets (``v8dbg_class_JSFunction__shared__SharedFunctionInfo``) and tagging constants. Node
exports them in ``.dynsym``, so even a stripped binary (Debian's ``libnode``) has them; about a
fifth live in ``.bss`` and are set by a static constructor, so values are read from the core's
memory at the symbol's address, never from the file. The few layout facts the metadata lacks
come from ``layouts.json`` by V8 version (``v8::internal::Version::major_``/``minor_``).
"""

from __future__ import annotations

import array
import functools
import json
import os
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from coresnap.errors import V8LayoutUnknown

Read = Callable[[int, int], "bytes | None"]
PREFIX = b"v8dbg_"
# v8::internal::Version's static members (src/utils/version.cc), exported with the metadata.
_VERSION = {
    "major": "_ZN2v88internal7Version6major_E",
    "minor": "_ZN2v88internal7Version6minor_E",
    "build": "_ZN2v88internal7Version6build_E",
    "patch": "_ZN2v88internal7Version6patch_E",
    "embedder": "_ZN2v88internal7Version9embedder_E",
}
# Where V8 keeps its embedded builtins (src/snapshot/embedded/embedded-data.cc): the blob in
# the binary's text, which an isolate may copy next to its JIT code (short builtin calls).
BLOB_CODE = "_ZN2v88internal12_GLOBAL__N_127current_embedded_blob_code_E"
BLOB_SIZE = "_ZN2v88internal12_GLOBAL__N_132current_embedded_blob_code_size_E"
SHT_SYMTAB, SHT_DYNSYM = 2, 11  # gABI section types
_SYM = struct.Struct("<IBBHQQ")
_MAX_SECTIONS = 1 << 16
_MAX_TABLE = 256 << 20  # a symbol or string table bigger than this is not read
_VERSION_NAMES = [name.encode() for name in _VERSION.values()]
_BLOB = [BLOB_CODE.encode(), BLOB_SIZE.encode()]
# What the frame decoder cannot do without (names without the v8dbg_ prefix).
REQUIRED = (
    "off_fp_context_or_frame_type",
    "off_fp_function",
    "off_fp_bytecode_array",
    "off_fp_bytecode_offset",
    "HeapObjectTag",
    "HeapObjectTagMask",
    "SmiTagMask",
    "SmiTag",
    "SmiShiftSize",
    "SmiValueShift",
    "TaggedSize",
    "SystemPointerSize",
    "FirstNonstringType",
    "FirstContextType",
    "LastContextType",
    "StringRepresentationMask",
    "StringEncodingMask",
    "SeqStringTag",
    "ConsStringTag",
    "ThinStringTag",
    "SlicedStringTag",
    "OneByteStringTag",
    "class_HeapObject__map__Map",
    "class_Map__instance_type__uint16_t",
    "class_String__length__int32_t",
    "class_SeqOneByteString__chars__char",
    "class_SeqTwoByteString__chars__char",
    "class_ConsString__first__String",
    "class_ConsString__second__String",
    "class_ThinString__actual__String",
    "class_SlicedString__parent__String",
    "class_SlicedString__offset__SMI",
    "class_FixedArrayBase__length__SMI",
    "class_FixedArray__data__uintptr_t",
    "class_BytecodeArray__data__uintptr_t",
    "class_JSFunction__shared__SharedFunctionInfo",
    "class_SharedFunctionInfo__name_or_scope_info__Object",
    "class_SharedFunctionInfo__script_or_debug_info__HeapObject",
    "class_Script__name__Object",
    "class_Script__line_ends__Object",
    "class_Script__source__Object",
    "scopeinfo_idx_ncontextlocals",
    "scopeinfo_idx_first_vars",
    "type_JSFunction__JS_FUNCTION_TYPE",
    "type_SharedFunctionInfo__SHARED_FUNCTION_INFO_TYPE",
    "type_ScopeInfo__SCOPE_INFO_TYPE",
    "type_Script__SCRIPT_TYPE",
    "type_BytecodeArray__BYTECODE_ARRAY_TYPE",
    "type_ByteArray__BYTE_ARRAY_TYPE",
    "type_FixedArray__FIXED_ARRAY_TYPE",
)


@dataclass(frozen=True)
class Metadata:
    """The constants of one V8 build (``values``, names without ``v8dbg_``) and its layout facts."""

    module: str
    version: str
    values: dict[str, int]
    layout: dict[str, Any]
    blob: tuple[int, int] | None = None  # the embedded builtins' code: (address, size)

    def __getitem__(self, name: str) -> int:
        return self.values[name]

    def get(self, name: str) -> int | None:
        return self.values.get(name)


@functools.lru_cache(maxsize=8)
def exported_symbols(path: str) -> dict[str, int] | None:
    """``{name: st_value}`` of the ``v8dbg_*``, ``Version`` and embedded-blob symbols of the
    ELF file ``path``; None when it has no v8dbg_ symbol (not a V8 binary). The metadata is
    exported (``.dynsym``); the blob's globals are local, in ``.symtab`` when not stripped."""
    found: dict[str, int] = {}
    try:
        with open(path, "rb") as f:
            sections = _section_headers(f)
            for kind in (SHT_DYNSYM, SHT_SYMTAB):
                for header in (h for h in sections if h[0] == kind and h[3] < len(sections)):
                    found.update(_symbols(f, header, sections[header[3]], metadata=not found))
    except (OSError, struct.error, ValueError):
        return None
    return found if any(name.startswith("v8dbg_") for name in found) else None


def _section_headers(f: BinaryIO) -> list[tuple[int, int, int, int]]:
    """(sh_type, sh_offset, sh_size, sh_link) of each section of an ELF64 little-endian file
    (the decoder reads 8-byte little-endian words: x86-64, arm64); [] for anything else."""
    ident = f.read(64)
    if len(ident) < 64 or ident[:4] != b"\x7fELF" or ident[4] != 2 or ident[5] != 1:
        return []
    # Elf64_Ehdr (gABI): e_shoff at 40, e_shentsize/e_shnum at 58/60.
    (e_shoff,) = struct.unpack_from("<Q", ident, 40)
    e_shentsize, e_shnum = struct.unpack_from("<HH", ident, 58)
    if e_shentsize != 64 or not 0 < e_shnum <= _MAX_SECTIONS:
        return []
    f.seek(e_shoff)
    table = f.read(e_shnum * 64)
    # Elf64_Shdr: sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, ...
    rows = struct.iter_unpack("<IIQQQQIIQQ", table[: len(table) - len(table) % 64])
    return [(r[1], r[4], r[5], r[6]) for r in rows]


def _symbols(
    f: BinaryIO, symtab: tuple[int, ...], strtab: tuple[int, ...], metadata: bool
) -> dict[str, int]:
    if symtab[2] > _MAX_TABLE or strtab[2] > _MAX_TABLE:
        return {}
    f.seek(strtab[1])
    strings = f.read(strtab[2])
    wanted = PREFIX + b"frametype_" if metadata else BLOB_CODE.encode()
    if strings.find(wanted) < 0:
        return {}  # a quick no: most binaries are not V8
    # The names' offsets in the string table, found with bytes.find (C speed); the symbols
    # are then matched by st_name alone (75,000 of them in node's .dynsym).
    names = _names(strings, [PREFIX] if metadata else [], _VERSION_NAMES if metadata else _BLOB)
    f.seek(symtab[1])
    data = f.read(symtab[2])
    # Elf64_Sym (gABI): st_name u32, st_info u8, st_other u8, st_shndx u16, st_value, st_size.
    # Every sixth u32 is an st_name: compared as one array, unpacked only where wanted.
    words = array.array("I", data[: len(data) - len(data) % _SYM.size])
    if sys.byteorder != "little":
        words.byteswap()
    found: dict[str, int] = {}
    for index, st_name in enumerate(words[::6]):
        if st_name in names:
            _name, _info, _other, shndx, value, _size = _SYM.unpack_from(data, index * _SYM.size)
            if shndx != 0:
                found[names[st_name].decode()] = value
    return found


def _names(strings: bytes, prefixes: list[bytes], exact: list[bytes]) -> dict[int, bytes]:
    """``{offset: name}`` of the NUL-terminated names in a string table that start with one of
    ``prefixes`` or are one of ``exact``."""
    found: dict[int, bytes] = {}
    for prefix in prefixes:
        at = strings.find(b"\0" + prefix)
        while at >= 0:
            end = strings.find(b"\0", at + 1)
            found[at + 1] = strings[at + 1 : end if end >= 0 else len(strings)]
            at = strings.find(b"\0" + prefix, at + 1)
    for name in exact:
        at = strings.find(b"\0" + name + b"\0")
        if at >= 0:
            found[at + 1] = name
    return found


def _int(read: Read, address: int) -> int | None:
    data = read(address, 4)
    return struct.unpack("<i", data)[0] if data is not None and len(data) == 4 else None


def _cstring(read: Read, address: int, limit: int = 64) -> str:
    pointer = read(address, 8)
    if pointer is None or len(pointer) != 8:
        return ""
    data = read(struct.unpack("<Q", pointer)[0], limit) or b""
    return data.split(b"\0", 1)[0].decode(errors="replace")


@functools.lru_cache(maxsize=1)
def layouts() -> dict[str, Any]:
    """``layouts.json``: the facts per V8 major.minor the metadata does not export."""
    with open(Path(__file__).with_name("layouts.json"), encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def load(path: str, bias: int, read: Read) -> Metadata:
    """The metadata of the V8 in module ``path`` (loaded ``bias`` above its link addresses).

    Raises:
        V8LayoutUnknown: no v8dbg symbols, a required constant missing or unreadable, tagged
            values not 8 bytes (pointer compression), or a V8 version layouts.json lacks.
    """
    symbols = exported_symbols(path) if os.path.isfile(path) else None
    if not symbols:
        raise V8LayoutUnknown(path, "no v8dbg_ symbols (not a V8 binary, or not on this host)")
    values: dict[str, int] = {}
    for name, address in symbols.items():
        if name.startswith(PREFIX.decode()):
            value = _int(read, address + bias)
            if value is not None:
                values[name[len(PREFIX) :]] = value
    missing = [name for name in REQUIRED if name not in values]
    if missing:
        raise V8LayoutUnknown(path, f"v8dbg_{missing[0]} missing ({len(missing)} required absent)")
    if values["TaggedSize"] != 8 or values["SystemPointerSize"] != 8:
        raise V8LayoutUnknown(path, f"tagged size {values['TaggedSize']}: pointer compression")
    numbers = {
        k: _int(read, symbols[s] + bias) if s in symbols else None for k, s in _VERSION.items()
    }
    if numbers["major"] is None or numbers["minor"] is None:
        raise V8LayoutUnknown(path, "the V8 version (v8::internal::Version) is not readable")
    embedder = _cstring(read, symbols[_VERSION["embedder"]] + bias) if "embedder" in numbers else ""
    version = (
        f"{numbers['major']}.{numbers['minor']}.{numbers['build']}.{numbers['patch']}{embedder}"
    )
    layout = layouts().get(f"{numbers['major']}.{numbers['minor']}")
    if layout is None:
        raise V8LayoutUnknown(
            path, f"V8 {version}: layout not in coresnap/analysis/v8/layouts.json"
        )
    return Metadata(path, version, values, layout, _blob(symbols, bias, read))


def _blob(symbols: dict[str, int], bias: int, read: Read) -> tuple[int, int] | None:
    """Where the embedded builtins are (set at start-up: read from the core), if the binary
    still names the globals that say so."""
    if BLOB_CODE not in symbols or BLOB_SIZE not in symbols:
        return None
    pointer = read(symbols[BLOB_CODE] + bias, 8)
    size = _int(read, symbols[BLOB_SIZE] + bias)
    if pointer is None or len(pointer) != 8 or not size or size < 0:
        return None
    return struct.unpack("<Q", pointer)[0], size
