"""Separate debug files inflated once, for every snapshot forked after (coresnapd's warm worker).

Distributions compress the DWARF of their ``/usr/lib/debug/.build-id`` files (``SHF_COMPRESSED``
sections, zlib). drgn inflates them for each program it opens: libc's debug info is ~60 ms of
zlib in each snapshot, on the path of every crash that has libc in it. The warm worker
(:func:`prepare`, before it forks) inflates the debug files of the libraries it maps itself
(libc, the dynamic loader, libm, libstdc++ …: those most processes map) into memory files;
a snapshot child hands them to drgn (:func:`offer`) for the modules of the same build id, which
drgn would have read from the build-id directory anyway. The snapshot names the file drgn
would have named (:func:`debug_file_path`): nothing in it changes but the time.
"""

from __future__ import annotations

import os
import struct
import zlib

import drgn

MAX_TOTAL = 128 << 20  # bytes of inflated debug files the worker keeps in memory
SHF_COMPRESSED = 0x800  # include/uapi/linux/elf.h
SHT_NOBITS = 8
ELFCOMPRESS_ZLIB = 1
_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")  # Elf64_Ehdr
_SHDR = struct.Struct("<IIQQQQIIQQ")  # Elf64_Shdr
_CHDR = struct.Struct("<IIQQ")  # Elf64_Chdr

_READY: dict[str, tuple[int, str]] = {}  # build id -> (memory file descriptor, debug file)
_REPORTED: dict[str, str] = {}  # the path drgn reports for a memory file -> its debug file


def _sections(data: bytes) -> tuple[list[list[int]], dict[str, int]] | None:
    """The section headers of a little-endian ELF64 image (as lists), and the index of each
    section name; None for anything else."""
    if len(data) < _EHDR.size or data[:4] != b"\x7fELF" or data[4:6] != b"\x02\x01":
        return None
    ehdr = _EHDR.unpack_from(data)
    e_shoff, e_shentsize, e_shnum, e_shstrndx = ehdr[6], ehdr[11], ehdr[12], ehdr[13]
    if e_shentsize != _SHDR.size or e_shnum == 0 or e_shoff + e_shnum * _SHDR.size > len(data):
        return None
    headers = [list(_SHDR.unpack_from(data, e_shoff + i * _SHDR.size)) for i in range(e_shnum)]
    if e_shstrndx >= e_shnum:
        return None
    strtab = headers[e_shstrndx]
    names = data[strtab[4] : strtab[4] + strtab[5]]
    index = {}
    for i, h in enumerate(headers):
        end = names.find(b"\0", h[0])
        index[names[h[0] : end].decode(errors="replace")] = i
    return headers, index


def inflated(data: bytes) -> bytes | None:
    """``data`` (an ELF64 little-endian file) with its zlib-compressed sections inflated: the
    original bytes, each inflated section appended, then the new section header table.
    Program headers and every other offset stay valid. None when there is nothing to inflate
    or the file is not one this knows (another class, zstd, a supplementary-file link)."""
    found = _sections(data)
    if found is None or ".gnu_debugaltlink" in found[1]:
        return None
    headers, _ = found
    out = bytearray(data)
    for h in headers:
        if not h[2] & SHF_COMPRESSED or h[1] == SHT_NOBITS:
            continue
        if h[4] + h[5] > len(data) or h[5] < _CHDR.size:
            return None
        ch_type, _, ch_size, ch_addralign = _CHDR.unpack_from(data, h[4])
        if ch_type != ELFCOMPRESS_ZLIB:
            return None
        try:
            raw = zlib.decompress(data[h[4] + _CHDR.size : h[4] + h[5]])
        except zlib.error:
            return None
        if len(raw) != ch_size:
            return None
        out += bytes(-len(out) % max(ch_addralign, 1))
        h[2], h[4], h[5], h[8] = h[2] & ~SHF_COMPRESSED, len(out), ch_size, ch_addralign
        out += raw
    if len(out) == len(data):
        return None
    out += bytes(-len(out) % 8)
    shoff = len(out)
    for h in headers:
        out += _SHDR.pack(*h)
    struct.pack_into("<Q", out, 0x28, shoff)  # e_shoff
    return bytes(out)


def _build_id_debug_file(library: str) -> tuple[str, str] | None:
    """(build id, its file in the build-id directory) of ``library``, when the library has no
    DWARF of its own (else drgn would use the library itself)."""
    from coresnap.corefile.buildid import file_build_id
    from coresnap.unwind.objfile import debug_file_for

    try:
        with open(library, "rb") as f:
            data = f.read()
    except OSError:
        return None
    found = _sections(data)
    build_id = file_build_id(library)
    if found is None or ".debug_info" in found[1] or not build_id:
        return None
    debug = debug_file_for(build_id)
    return (build_id, debug) if debug else None


def _own_libraries() -> list[str]:
    try:
        with open("/proc/self/maps") as f:
            fields = [line.split(maxsplit=5) for line in f]
    except OSError:
        return []
    paths = (f[5].rstrip("\n") for f in fields if len(f) == 6)
    return list(dict.fromkeys(p for p in paths if p.startswith("/") and ".so" in p))


def prepare(libraries: list[str] | None = None) -> list[str]:
    """Inflate the debug files of ``libraries`` (default: those this process maps) into memory
    files kept open for the processes forked after; returns the debug files inflated."""
    total = sum(os.fstat(fd).st_size for fd, _ in _READY.values())
    done = []
    for library in libraries if libraries is not None else _own_libraries():
        found = _build_id_debug_file(library)
        if found is None or found[0] in _READY:
            continue
        build_id, debug = found
        try:
            with open(debug, "rb") as f:
                data = inflated(f.read())
        except OSError:
            continue
        if data is None or total + len(data) > MAX_TOTAL:
            continue
        fd = os.memfd_create(f"coresnap-debug-{build_id}", os.MFD_CLOEXEC)
        os.write(fd, data)
        _READY[build_id] = (fd, debug)
        total += len(data)
        done.append(debug)
    return done


def offer(prog: drgn.Program) -> None:
    """Give drgn the inflated debug file of each module of ``prog`` that has one (before
    ``load_debug_info``; without :func:`prepare`, nothing)."""
    if not _READY:
        return
    try:
        prog.create_loaded_modules()
        modules = list(prog.modules())
    except (ValueError, LookupError, drgn.FaultError, drgn.BadDataError):
        return
    for m in modules:
        ready = _READY.get(m.build_id.hex()) if m.build_id else None
        if ready is None or not m.wants_debug_file():
            continue
        fd, debug = ready
        try:
            m.try_file(f"/proc/self/fd/{fd}")
        except (OSError, ValueError, drgn.BadDataError):
            continue
        if m.debug_file_path and m.debug_file_path != debug:
            _REPORTED[m.debug_file_path] = debug


def debug_file_path(m: drgn.Module) -> str | None:
    """``m.debug_file_path``, naming the build-id directory's file for an inflated one."""
    path = m.debug_file_path
    return _REPORTED.get(path, path) if path else path
