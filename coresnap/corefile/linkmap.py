"""The dynamic linker's list of loaded objects, read from the dumped memory.

Cores without ``NT_FILE`` (kernels before 3.7, some other writers) name no mapped files; the
modules are then found as eu-unstrip and gdb find them: ``AT_PHDR`` gives the executable's
program headers, its ``PT_DYNAMIC`` holds ``DT_DEBUG`` = the address of ``struct r_debug``
(glibc ``link.h``), whose ``r_map`` starts the ``struct link_map`` chain
(``l_addr, l_name, l_ld, l_next, l_prev``).
"""

from __future__ import annotations

from dataclasses import dataclass

from coresnap.corefile import structs as S
from coresnap.corefile.memory import AddressSpace
from coresnap.corefile.model import AuxvEntry, ElfIdent
from coresnap.errors import CoresnapError

DT_NULL = 0
DT_DEBUG = 21
_MAX_DYNAMIC = 4096  # entries of PT_DYNAMIC read at most
_MAX_OBJECTS = 4096  # link_map entries followed at most (the chain may be corrupt or cyclic)


@dataclass(frozen=True)
class LinkMapEntry:
    l_addr: int  # load bias
    l_name: str
    l_ld: int  # address of the object's dynamic section


def _phdrs(memory: AddressSpace, ident: ElfIdent, aux: dict[str, int]) -> list[dict[str, int]]:
    phdr = S.layout(ident.byteorder, f"Phdr{ident.elfclass}")
    count = aux.get("AT_PHNUM", 0)
    if "AT_PHDR" not in aux or aux.get("AT_PHENT") != phdr.size or not 0 < count <= 256:
        return []
    table = memory.read(aux["AT_PHDR"], count * phdr.size)
    names = S.PHDR64_FIELDS if ident.elfclass == 64 else S.PHDR32_FIELDS
    return [dict(zip(names, v, strict=True)) for v in phdr.iter_unpack(table)]


def executable_bias(
    memory: AddressSpace, ident: ElfIdent, auxv: list[AuxvEntry]
) -> tuple[int, list[dict[str, int]]] | None:
    """(load bias, program headers) of the executable, from ``AT_PHDR`` and its ``PT_PHDR``."""
    aux = {e.name: e.a_val for e in auxv}
    try:
        phdrs = _phdrs(memory, ident, aux)
    except CoresnapError:
        return None
    pt_phdr = next((p for p in phdrs if p["p_type"] == S.PT_PHDR), None)
    if pt_phdr is None:
        return None
    return aux["AT_PHDR"] - pt_phdr["p_vaddr"], phdrs


def read_link_map(
    memory: AddressSpace, ident: ElfIdent, auxv: list[AuxvEntry]
) -> list[LinkMapEntry]:
    """The link_map chain in load order; empty when the core does not hold it (static
    executables have no DT_DEBUG). Never raises: a broken chain ends where it breaks."""
    found = executable_bias(memory, ident, auxv)
    if found is None:
        return []
    bias, phdrs = found
    w = ident.elfclass // 8
    read_word = memory.read_u64 if w == 8 else memory.read_u32
    entries: list[LinkMapEntry] = []
    try:
        dynamic = next(p for p in phdrs if p["p_type"] == S.PT_DYNAMIC)
        r_debug = 0
        for i in range(min(dynamic["p_memsz"] // (2 * w), _MAX_DYNAMIC)):
            d_tag = read_word(bias + dynamic["p_vaddr"] + 2 * w * i)
            if d_tag == DT_NULL:
                break
            if d_tag == DT_DEBUG:
                r_debug = read_word(bias + dynamic["p_vaddr"] + 2 * w * i + w)
        # struct r_debug { int r_version; struct link_map *r_map; ... }: r_map is word-aligned.
        node = read_word(r_debug + w) if r_debug else 0
        seen: set[int] = set()
        while node and node not in seen and len(entries) < _MAX_OBJECTS:
            seen.add(node)
            l_addr, l_name, l_ld, l_next = (read_word(node + k * w) for k in range(4))
            name = memory.read_cstring(l_name, 4096).decode(errors="replace") if l_name else ""
            entries.append(LinkMapEntry(l_addr, name, l_ld))
            node = l_next
    except (CoresnapError, StopIteration):
        pass
    return entries
