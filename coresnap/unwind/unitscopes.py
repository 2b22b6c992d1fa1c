"""The scopes of one compile unit around an address, through its :class:`ScopeIndex`.

The index (built from raw bytes, :mod:`coresnap.unwind.dieindex`) says which scope holds an
address and who its parent is; pyelftools then parses only the DIEs found that way, with
their parents set from the index (pyelftools would otherwise find a DIE's parent by walking
its ancestors' children: every DIE of ``namespace std`` for a C++ library function).
"""

from __future__ import annotations

from collections.abc import Callable

from elftools.dwarf.compileunit import CompileUnit
from elftools.dwarf.die import DIE
from elftools.dwarf.dwarfinfo import DWARFInfo
from elftools.dwarf.enums import ENUM_DW_TAG

from coresnap.unwind.dieindex import DW_TAG_subprogram, ScopeIndex

DW_TAG_inlined_subroutine = ENUM_DW_TAG["DW_TAG_inlined_subroutine"]
DW_TAG_lexical_block = ENUM_DW_TAG["DW_TAG_lexical_block"]
# The scopes an address can be nested in, inside a function (gdb's block tree).
_INNER = frozenset((DW_TAG_lexical_block, DW_TAG_inlined_subroutine, DW_TAG_subprogram))
RangesOf = Callable[[DWARFInfo, DIE], list[tuple[int, int]]]


class UnitScopes:
    """Functions and inlined calls of one unit by address; DIEs with their parents set."""

    def __init__(
        self, dwarf: DWARFInfo, cu: CompileUnit, index: ScopeIndex, ranges_of: RangesOf
    ) -> None:
        self.dwarf = dwarf
        self.cu = cu
        self.index = index
        self._ranges_of = ranges_of
        self._ranged: list[tuple[int, int, int]] | None = None

    def die(self, offset: int) -> DIE:
        """The pyelftools DIE at ``offset`` (in this unit), its parent chain set."""
        die = self.cu.get_DIE_from_refaddr(offset)
        parent = self.index.parents.get(offset)
        if parent is not None and die._parent is None:  # set once; pyelftools keeps the DIE
            die.set_parent(self.die(parent))
        return die

    def parent_of(self, die: DIE) -> DIE | None:
        """``die``'s parent, from the index when ``die`` is a scope of this unit."""
        if die.cu is not self.cu or die.offset not in self.index.tags:
            return die.get_parent()
        parent = self.index.parents.get(die.offset)
        return None if parent is None else self.die(parent)

    def function_at(self, address: int) -> tuple[int, DIE] | None:
        """(start of the range holding ``address``, the DW_TAG_subprogram DIE), or None."""
        found = self.index.function_at(address)
        if found is None:
            ranged = self._ranged_functions()
            found = next(((lo, o) for lo, hi, o in ranged if lo <= address < hi), None)
        return None if found is None else (found[0], self.die(found[1]))

    def inner(self, scope: DIE, address: int) -> tuple[int, DIE] | None:
        """The child scope of ``scope`` holding ``address`` (with its range's start), or None."""
        for offset in self.index.children(scope.offset):
            if self.index.tags[offset] not in _INNER:
                continue
            for lo, hi in self._ranges(offset):
                if lo <= address < hi:
                    return lo, self.die(offset)
        return None

    def _ranges(self, offset: int) -> list[tuple[int, int]]:
        bounds = self.index.bounds.get(offset)
        if bounds is not None:
            return [bounds]
        if offset in self.index.ranged:
            return self._ranges_of(self.dwarf, self.die(offset))
        return []

    def _ranged_functions(self) -> list[tuple[int, int, int]]:
        """Subprograms described by ``DW_AT_ranges`` (hot/cold split), read once per unit."""
        if self._ranged is None:
            self._ranged = sorted(
                (lo, hi, offset)
                for offset in self.index.ranged
                if self.index.tags[offset] == DW_TAG_subprogram
                for lo, hi in self._ranges(offset)
            )
        return self._ranged
