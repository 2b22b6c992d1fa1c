"""Function symbols of one ELF file (``.symtab``, else ``.dynsym``), searched by address.

A stripped binary keeps ``.dynsym`` only: its exported functions still have names, static
ones do not (like gdb, an address past a symbol's ``st_size`` gets no name rather than a
wrong one). Addresses are link-time (``st_value``).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

# STT_FUNC and STT_GNU_IFUNC name code; a few hand-written assembly entry points (``_start``
# in some libcs) are STT_NOTYPE in an executable section, so those count too.
_CODE_TYPES = {"STT_FUNC", "STT_GNU_IFUNC", "STT_NOTYPE"}
_BINDING_RANK = {"STB_GLOBAL": 0, "STB_WEAK": 1, "STB_LOCAL": 2}
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
    """The code symbols of the first of ``elves`` that has a ``.symtab``, plus ``.dynsym``.

    Pass the binary and then its separate debug file: the debug file's ``.symtab`` names the
    static functions a stripped binary lost.
    """
    best: dict[int, tuple[tuple[int, int], Symbol]] = {}
    aliases: dict[str, Symbol] = {}
    for elf in elves:
        exec_sections = {
            i for i, s in enumerate(elf.iter_sections()) if s["sh_flags"] & SHF_EXECINSTR
        }
        for section in elf.iter_sections():
            if not isinstance(section, SymbolTableSection):
                continue
            for sym in section.iter_symbols():
                symbol = _consider(sym, exec_sections, best)
                if symbol is not None:
                    aliases.setdefault(symbol.name, symbol)
    return SymbolTable((entry[1] for entry in best.values()), aliases)


def _consider(sym: object, exec_sections: set[int], best: dict) -> Symbol | None:
    entry = sym.entry  # type: ignore[attr-defined]
    info = entry["st_info"]
    if info["type"] not in _CODE_TYPES or not sym.name:  # type: ignore[attr-defined]
        return None
    shndx = entry["st_shndx"]
    if not isinstance(shndx, int) or shndx not in exec_sections:
        return None
    if info["type"] == "STT_NOTYPE" and sym.name.startswith("$"):  # type: ignore[attr-defined]
        return None  # ARM/AArch64 mapping symbols ($x, $d) are not functions
    # Prefer a sized FUNC, then global binding, then the shortest name (fewest __ prefixes).
    rank = (
        0 if info["type"] != "STT_NOTYPE" and entry["st_size"] else 1,
        _BINDING_RANK.get(info["bind"], 3),
    )
    symbol = Symbol(sym.name, entry["st_value"], entry["st_size"])  # type: ignore[attr-defined]
    old = best.get(symbol.start)
    if old is None or (rank, len(symbol.name)) < (old[0], len(old[1].name)):
        best[symbol.start] = (rank, symbol)
    return symbol
