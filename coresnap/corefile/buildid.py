"""Modules (the executable, shared libraries, the vDSO) and their GNU build ids.

The kernel dumps the first page of every ELF file mapping (``coredump_filter`` bit 4, on by
default), so the ELF header, program headers and usually the ``NT_GNU_BUILD_ID`` note of each
module are in the core. Where they are not, the file on disk is read instead, and
``build_id_source`` says which. When both exist and differ, ``file_build_id`` flags that the
file on disk is not the one that ran.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from coresnap.corefile import structs as S
from coresnap.corefile.elf import parse_notes
from coresnap.corefile.linkmap import LinkMapEntry, executable_bias, read_link_map
from coresnap.corefile.memory import AddressSpace
from coresnap.corefile.model import AuxvEntry, ElfIdent, Mapping, Module
from coresnap.errors import CoresnapError

_MAX_PHNUM = 512  # real objects have a dozen; more is a hostile or broken header
_MAX_NOTES = 64 << 10

Read = Callable[[int, int], bytes]


@dataclass
class _Image:
    ident: ElfIdent
    e_type: int
    phdrs: list[dict[str, int]]

    def loads(self) -> list[dict[str, int]]:
        return sorted(
            (p for p in self.phdrs if p["p_type"] == S.PT_LOAD), key=lambda p: p["p_vaddr"]
        )


def _parse_headers(read: Read) -> _Image | None:
    """ELF header + program headers through ``read(offset, size)``; None if not ELF."""
    head = read(0, 64)
    if len(head) < 52 or head[:4] != S.ELFMAG or head[S.EI_CLASS] not in (1, 2):
        return None
    order: S.ByteOrder = "<" if head[S.EI_DATA] == S.ELFDATA2LSB else ">"
    elfclass = 32 if head[S.EI_CLASS] == S.ELFCLASS32 else 64
    ehdr = S.layout(order, f"Ehdr{elfclass}")
    if len(head) < S.EI_NIDENT + ehdr.size:
        return None
    h = dict(zip(S.EHDR_FIELDS, ehdr.unpack_from(head, S.EI_NIDENT), strict=True))
    phdr = S.layout(order, f"Phdr{elfclass}")
    if h["e_phentsize"] != phdr.size or not 0 < h["e_phnum"] <= _MAX_PHNUM:
        return None
    table = read(h["e_phoff"], h["e_phnum"] * phdr.size)
    names = S.PHDR64_FIELDS if elfclass == 64 else S.PHDR32_FIELDS
    phdrs = [
        dict(zip(names, v, strict=True))
        for v in phdr.iter_unpack(table[: len(table) // phdr.size * phdr.size])
    ]
    ident = ElfIdent(elfclass, order, h["e_machine"], "", 0, h["e_flags"])
    return _Image(ident, h["e_type"], phdrs)


def _build_id(image: _Image, read: Read, where: str) -> str | None:
    """The NT_GNU_BUILD_ID of ``image``; ``where`` is "p_vaddr" (memory) or "p_offset" (file)."""
    for p in image.phdrs:
        if p["p_type"] != S.PT_NOTE or p["p_filesz"] > _MAX_NOTES:
            continue
        data = read(p[where], p["p_filesz"])
        align = 8 if p["p_align"] == 8 else 4
        for note in parse_notes(data, p["p_offset"], image.ident, align):
            if note.name == "GNU" and note.type == S.NT_GNU_BUILD_ID and note.desc:
                return note.desc.hex()
    return None


def _from_memory(memory: AddressSpace, base: int) -> tuple[_Image, str | None, int] | None:
    """(image, build id, load bias) from the ELF header dumped at ``base``, if it is there."""

    def read_at(offset: int, size: int) -> bytes:
        return memory.read(base + offset, size, files=False)

    try:
        image = _parse_headers(read_at)
        if image is None or not image.loads():
            return None
        first = image.loads()[0]
        bias = base - (first["p_vaddr"] - first["p_offset"])
        build_id = _build_id(image, lambda a, n: memory.read(bias + a, n, files=False), "p_vaddr")
    except CoresnapError:
        return None
    return image, build_id, bias


def _from_file(path: str) -> tuple[_Image, str | None] | None:
    """(image, build id) of the ELF file at ``path`` on this machine, if readable."""
    try:
        with open(path, "rb") as f:

            def read_at(offset: int, size: int) -> bytes:
                f.seek(offset)
                return f.read(size)

            image = _parse_headers(read_at)
            if image is None:
                return None
            return image, _build_id(image, read_at, "p_offset")
    except (OSError, CoresnapError, struct.error):
        return None


def file_build_id(path: str) -> str | None:
    """The hex GNU build id of the ELF file at ``path``; None when it has none or is unreadable."""
    found = _from_file(path)
    return found[1] if found is not None else None


def _module(path: str, maps: list[Mapping], memory: AddressSpace) -> Module:
    maps = sorted(maps, key=lambda m: m.start)
    module = Module(path, maps[0].start, max(m.end for m in maps))
    header = next((m for m in maps if m.file_offset == 0), None)
    core = _from_memory(memory, header.start) if header else None
    disk = _from_file(memory.local_path(path)) if path.startswith("/") else None
    if core is not None:
        image, module.build_id, module.load_bias = core
        module.build_id_source = "core" if module.build_id else None
        _image_range(module, image)
    if disk is not None:
        image, file_id = disk
        if module.build_id is None and file_id is not None:
            module.build_id, module.build_id_source = file_id, "file"
        elif file_id != module.build_id:
            module.file_build_id = file_id
        if module.load_bias is None and image.loads():
            first = min(image.loads(), key=lambda p: p["p_offset"])
            module.load_bias = (
                maps[0].start - maps[0].file_offset - (first["p_vaddr"] - first["p_offset"])
            )
    return module


def _module_at(memory: AddressSpace, path: str, header: int) -> Module | None:
    """The module whose ELF header the core holds at ``header``, if it does."""
    found = _from_memory(memory, header)
    if found is None:
        return None
    image, build_id, bias = found
    module = Module(path, header, header, bias, build_id, "core" if build_id else None)
    _image_range(module, image)
    return module


def _library_header(memory: AddressSpace, entry: LinkMapEntry) -> Module | None:
    """A link_map object's module: its ELF header is at l_addr (not prelinked) or at the start
    of a segment below its dynamic section. A header found in a later segment (with 64 KiB
    pages the data segment may map file offset 0 too) still says, through PT_DYNAMIC = l_ld,
    where the image really starts."""
    for candidate in [entry.l_addr, *memory.segment_starts_before(entry.l_ld, 16)]:
        found = _from_memory(memory, candidate)
        if found is None:
            continue
        image = found[0]
        dynamic = next((p for p in image.phdrs if p["p_type"] == S.PT_DYNAMIC), None)
        if dynamic is None:
            continue
        first = image.loads()[0]
        header = entry.l_ld - dynamic["p_vaddr"] + first["p_vaddr"] - first["p_offset"]
        module = _module_at(memory, entry.l_name, header)
        if module is not None and module.load_bias == entry.l_ld - dynamic["p_vaddr"]:
            return module
    return None


def _link_map_modules(
    memory: AddressSpace, ident: ElfIdent, auxv: list[AuxvEntry], exe: str | None
) -> list[Module]:
    """Modules of a core without NT_FILE, from the dynamic linker's link_map (linkmap.py)."""
    modules = []
    found = executable_bias(memory, ident, auxv)
    loads = sorted((p for p in found[1] if p["p_type"] == S.PT_LOAD), key=lambda p: p["p_vaddr"]) if found else []  # fmt: skip
    if found and loads:
        header = found[0] + loads[0]["p_vaddr"] - loads[0]["p_offset"]
        module = _module_at(memory, exe or "[exe]", header)
        modules += [module] if module else []
    for entry in read_link_map(memory, ident, auxv):
        module = _library_header(memory, entry) if entry.l_name else None
        if module is not None and all(m.start != module.start for m in modules):
            modules.append(module)
    return modules


def find_modules(
    mappings: list[Mapping],
    auxv: list[AuxvEntry],
    memory: AddressSpace,
    ident: ElfIdent | None = None,
    exe: str | None = None,
) -> list[Module]:
    """Every mapped ELF object, by lowest address; the one holding ``AT_ENTRY`` is the executable.

    Objects come from the file mappings (NT_FILE, VMMAP); without any, from the dynamic
    linker's link_map in the dumped memory (``ident`` needed; ``exe`` names the executable).
    Never raises for unreadable or non-ELF files: they are listed without a build id.
    """
    by_path: dict[str, list[Mapping]] = {}
    for m in mappings:
        if m.path and not m.path.startswith(("/dev/", "/memfd:", "/SYSV")):
            by_path.setdefault(m.path, []).append(m)
    modules = [_module(path, maps, memory) for path, maps in by_path.items()]
    aux = {e.name: e.a_val for e in auxv}
    vdso = aux.get("AT_SYSINFO_EHDR")
    vdso_map = memory.find_mapping(vdso) if vdso else None
    if vdso and vdso_map is not None and not vdso_map.path:
        vdso_module = _module_at(memory, "[vdso]", vdso) or Module(
            "[vdso]", vdso_map.start, vdso_map.end
        )
        modules.append(vdso_module)
    if not by_path and ident is not None:
        starts = {m.start for m in modules}
        modules += [m for m in _link_map_modules(memory, ident, auxv, exe) if m.start not in starts]
    entry = aux.get("AT_ENTRY")
    for mod in modules:
        mod.is_executable = entry is not None and mod.start <= entry < mod.end
    return sorted((m for m in modules if _is_elf(m, by_path, memory)), key=lambda m: m.start)


def _image_range(module: Module, image: _Image) -> None:
    """[start, end) of the loaded image (its PT_LOADs), finer than the page-rounded mappings."""
    loads = image.loads()
    if loads and module.load_bias is not None:
        module.start = module.load_bias + loads[0]["p_vaddr"]
        module.end = module.load_bias + max(p["p_vaddr"] + p["p_memsz"] for p in loads)


def _is_elf(module: Module, by_path: dict[str, list[Mapping]], memory: AddressSpace) -> bool:
    """Headers found, or the executable, or an unknown file mapped executable (the kernel
    only dumps first pages of ELF files, so a data file such as locale-archive has none)."""
    if module.load_bias is not None or module.is_executable or module.path == "[vdso]":
        return True
    try:
        with open(memory.local_path(module.path), "rb") as f:
            return f.read(4) == S.ELFMAG
    except OSError:
        return any("x" in m.perms for m in by_path.get(module.path, []))


def exe_path(modules: list[Module]) -> str | None:
    """The executable's path among ``modules``, if one holds AT_ENTRY."""
    return next((m.path for m in modules if m.is_executable), None)
