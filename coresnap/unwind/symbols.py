"""Function symbols of one ELF file (``.symtab``, else ``.dynsym``), searched by address.

A stripped binary keeps ``.dynsym`` only: its exported functions still have names, static
ones do not (like gdb, an address past a symbol's ``st_size`` gets no name rather than a
wrong one). Addresses are link-time (``st_value``).
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

# ELF gABI symbol types and bindings. STT_FUNC and STT_GNU_IFUNC name code; a few
# hand-written assembly entry points (``_start`` in some libcs) are STT_NOTYPE in an
# executable section, so those count too.
STT_NOTYPE, STT_FUNC, STT_GNU_IFUNC = 0, 2, 10
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
_CODE_TYPES = {STT_FUNC, STT_GNU_IFUNC, STT_NOTYPE}
_BINDING_RANK = {STB_GLOBAL: 0, STB_WEAK: 1, STB_LOCAL: 2}
SHF_EXECINSTR = 0x4


@dataclass(frozen=True)
class Symbol:
    name: str
    start: int
    size: int


class SymbolTable:
    """Code symbols sorted by address; one name per address (global before weak before local)."""

    def __init__(self, symbols: Iterable[Symbol], aliases: dict[str, Symbol] | None = None) -> None:
        self.symbols = sorted(symbols, key=lambda s: s.start)
        self._starts = [s.start for s in self.symbols]
        self._by_name = aliases

    def __len__(self) -> int:
        return len(self.symbols)

    def lookup(self, address: int) -> tuple[Symbol, int] | None:
        """(symbol, offset into it) for link-time ``address``, or None."""
        i = bisect.bisect_right(self._starts, address) - 1
        if i < 0:
            return None
        sym = self.symbols[i]
        if sym.size and address >= sym.start + sym.size:
            return None
        return sym, address - sym.start

    def by_name(self, name: str) -> Symbol | None:
        if self._by_name is None:
            self._by_name = {s.name: s for s in self.symbols}
        return self._by_name.get(name)


def read_symbols(*elves: ELFFile) -> SymbolTable:
    """The code symbols of every ``SHT_SYMTAB``/``SHT_DYNSYM`` of ``elves``, best name per address.

    Pass the binary and then its separate debug file: the debug file's ``.symtab`` names the
    static functions a stripped binary lost.
    """
    best: dict[int, tuple[tuple[int, int, int], Symbol]] = {}
    aliases: dict[str, Symbol] = {}
    for elf in elves:
        sections = list(elf.iter_sections())
        exec_sections = {i for i, sec in enumerate(sections) if sec["sh_flags"] & SHF_EXECINSTR}
        for section in sections:
            if not isinstance(section, SymbolTableSection):
                continue
            strtab = (
                sections[section["sh_link"]].data() if section["sh_link"] < len(sections) else b""
            )
            for symbol, rank in _code_symbols(elf, section.data(), strtab, exec_sections):
                aliases.setdefault(symbol.name, symbol)
                old = best.get(symbol.start)
                if old is None or rank < old[0]:
                    best[symbol.start] = (rank, symbol)
    return SymbolTable((entry[1] for entry in best.values()), aliases)


def _code_symbols(
    elf: ELFFile, data: bytes, strtab: bytes, exec_sections: set[int]
) -> Iterator[tuple[Symbol, tuple[int, int, int]]]:
    """Decode ``ElfN_Sym`` records with ``struct`` (pyelftools' per-symbol parse is ~50x
    slower, seconds for libc's debug file) and keep code symbols, with their rank:
    a sized FUNC first, then global before weak before local, then the shortest name."""
    order = "<" if elf.little_endian else ">"
    if elf.elfclass == 64:  # Elf64_Sym: st_name, st_info, st_other, st_shndx, st_value, st_size
        layout, fields = struct.Struct(order + "IBBHQQ"), (0, 1, 3, 4, 5)
    else:  # Elf32_Sym: st_name, st_value, st_size, st_info, st_other, st_shndx
        layout, fields = struct.Struct(order + "IIIBBH"), (0, 3, 5, 1, 2)
    usable = len(data) - len(data) % layout.size
    for record in layout.iter_unpack(data[:usable]):
        st_name, st_info, st_shndx, st_value, st_size = (record[i] for i in fields)
        kind, bind = st_info & 0xF, st_info >> 4
        if kind not in _CODE_TYPES or st_shndx not in exec_sections or st_name >= len(strtab):
            continue
        name = strtab[st_name : strtab.find(b"\0", st_name)].decode(errors="replace")
        if not name or (kind == STT_NOTYPE and name.startswith("$")):
            continue  # ARM/AArch64 mapping symbols ($x, $d) are not functions
        rank = (0 if kind != STT_NOTYPE and st_size else 1, _BINDING_RANK.get(bind, 3), len(name))
        yield Symbol(name, st_value, st_size), rank
