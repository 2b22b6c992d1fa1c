"""Source lines and inline frames from DWARF (``.debug_info`` + ``.debug_line``).

For a link-time address: the compile unit holding it (``.debug_aranges``, else the CUs'
own ranges), the ``DW_TAG_subprogram`` containing it and the chain of
``DW_TAG_inlined_subroutine`` nested inside, innermost last, and the line table row. Each
CU's scope index (:mod:`coresnap.unwind.dieindex`) and line rows are built on first use and
kept: a second lookup in the same CU is a binary search.
"""

from __future__ import annotations

import bisect
import posixpath
from dataclasses import dataclass

from elftools.dwarf.compileunit import CompileUnit
from elftools.dwarf.die import DIE
from elftools.dwarf.dwarfinfo import DWARFInfo
from elftools.dwarf.ranges import BaseAddressEntry

from coresnap.errors import DieIndexError
from coresnap.unwind.dieindex import AddressTable, index_unit
from coresnap.unwind.names import die_name, linkage_name, text
from coresnap.unwind.unitscopes import UnitScopes

_FUNCTION_TAGS = ("DW_TAG_subprogram", "DW_TAG_inlined_subroutine")
_SCOPE_TAGS = ("DW_TAG_lexical_block", *_FUNCTION_TAGS)


@dataclass(frozen=True)
class SourceLine:
    file: str | None
    line: int | None
    column: int | None


@dataclass(frozen=True)
class Scope:
    """A function or an inlined call covering the address, outermost first in a chain."""

    name: str | None
    start: int  # lowest address of the scope (to compute function_offset)
    inlined: bool
    call_site: SourceLine | None  # where an inlined call was made (DW_AT_call_file/line)
    linkage_name: str | None = None  # C++'s mangled name, when the DIE has one (gdb uses it)


class DebugInfo:
    """Address → (inline chain, source line) for one file with ``.debug_info``."""

    def __init__(self, dwarf: DWARFInfo) -> None:
        self.dwarf = dwarf
        self._cu_ranges: list[tuple[int, int, int]] | None = None
        self._functions: dict[int, list[tuple[int, int, DIE]]] = {}
        self._units: dict[int, UnitScopes | None] = {}
        self._raw: tuple[bytes, bytes] | None = None
        self._lines: dict[int, tuple[list[int], list[SourceLine]]] = {}
        aranges = dwarf.get_aranges()
        self._aranges = aranges

    def scopes(self, address: int) -> list[Scope]:
        """The subprogram and inlined calls containing ``address``, outermost first."""
        found = self.function_at(address)
        return [] if found is None else self._chain(found[1], address, found[0])

    def function_at(self, address: int) -> tuple[int, DIE] | None:
        """(lowest address of the range holding ``address``, its DW_TAG_subprogram DIE)."""
        cu = self._cu_for(address)
        if cu is None:
            return None
        unit = self._unit(cu)
        if unit is not None:
            return unit.function_at(address)
        for lo, hi, die in self._functions_of(cu):
            if lo <= address < hi:
                return lo, die
        return None

    def _unit(self, cu: CompileUnit) -> UnitScopes | None:
        """The unit's scope index; None when the fast walker cannot read it (then pyelftools
        walks every DIE, as before the index existed)."""
        if cu.cu_offset not in self._units:
            try:
                index = index_unit(*self._raw_sections(), cu, self._address_table(cu))
                self._units[cu.cu_offset] = UnitScopes(self.dwarf, cu, index, die_ranges)
            except (DieIndexError, IndexError, ValueError):
                self._units[cu.cu_offset] = None
        return self._units[cu.cu_offset]

    def _raw_sections(self) -> tuple[bytes, bytes]:
        if self._raw is None:
            info, abbrev = self.dwarf.debug_info_sec, self.dwarf.debug_abbrev_sec
            if info is None or abbrev is None:
                raise DieIndexError(0, "no .debug_info or .debug_abbrev")
            self._raw = (_section_bytes(info.stream), _section_bytes(abbrev.stream))
        return self._raw

    def _address_table(self, cu: CompileUnit) -> AddressTable:
        def load() -> tuple[bytes, int] | None:
            base = cu.get_top_DIE().attributes.get("DW_AT_addr_base")
            section = self.dwarf.debug_addr_sec
            if base is None or section is None:
                return None
            return _section_bytes(section.stream), base.value

        return AddressTable(load)

    def line(self, address: int) -> SourceLine | None:
        """The line table row in force at ``address``."""
        cu = self._cu_for(address)
        if cu is None:
            return None
        starts, rows = self._lines_of(cu)
        i = bisect.bisect_right(starts, address) - 1
        if i < 0 or rows[i].line is None:
            return None
        return rows[i]

    def _cu_for(self, address: int) -> CompileUnit | None:
        offset = None
        if self._aranges is not None:
            offset = self._aranges.cu_offset_at_addr(address)
        if offset is None:
            for lo, hi, cu_offset in self._all_cu_ranges():
                if lo <= address < hi:
                    offset = cu_offset
                    break
        return None if offset is None else self.dwarf.get_CU_at(offset)

    def _all_cu_ranges(self) -> list[tuple[int, int, int]]:
        if self._cu_ranges is None:
            self._cu_ranges = [
                (lo, hi, cu.cu_offset)
                for cu in self.dwarf.iter_CUs()
                for lo, hi in die_ranges(self.dwarf, cu.get_top_DIE())
            ]
        return self._cu_ranges

    def _functions_of(self, cu: CompileUnit) -> list[tuple[int, int, DIE]]:
        found = self._functions.get(cu.cu_offset)
        if found is None:
            found = []
            for die in cu.iter_DIEs():
                if die.tag == "DW_TAG_subprogram":
                    found += [(lo, hi, die) for lo, hi in die_ranges(self.dwarf, die)]
            self._functions[cu.cu_offset] = found
        return found

    def _chain(self, die: DIE, address: int, lo: int) -> list[Scope]:
        unit = self._units.get(die.cu.cu_offset)
        parent_of = unit.parent_of if unit is not None else None
        chain = [Scope(die_name(die, parent_of), lo, False, None, linkage_name(die))]
        scope: DIE | None = die
        while scope is not None:
            found = unit.inner(scope, address) if unit is not None else self._inner(scope, address)
            scope = None
            if found is not None:
                start, scope = found
                if scope.tag == "DW_TAG_inlined_subroutine":
                    name, call = die_name(scope, parent_of), self._call_site(scope)
                    chain.append(Scope(name, start, True, call, linkage_name(scope)))
        return chain

    def _inner(self, parent: DIE, address: int) -> tuple[int, DIE] | None:
        """The child scope of ``parent`` covering address (pyelftools' walk)."""
        for child in parent.iter_children():
            if child.tag not in _SCOPE_TAGS:
                continue
            for lo, hi in die_ranges(self.dwarf, child):
                if lo <= address < hi:
                    return lo, child
        return None

    def _call_site(self, die: DIE) -> SourceLine:
        attrs = die.attributes
        file_index = attrs["DW_AT_call_file"].value if "DW_AT_call_file" in attrs else None
        line = attrs["DW_AT_call_line"].value if "DW_AT_call_line" in attrs else None
        column = attrs["DW_AT_call_column"].value if "DW_AT_call_column" in attrs else None
        names = self._file_names(die.cu)  # type: ignore[arg-type]
        name = names.get(file_index) if file_index is not None else None
        return SourceLine(name, line, column)

    def _file_names(self, cu: CompileUnit) -> dict[int, str]:
        program = self.dwarf.line_program_for_CU(cu)
        if program is None:
            return {}
        version = program.header["version"]
        dirs = [text(d) for d in program["include_directory"]]
        names: dict[int, str] = {}
        for i, entry in enumerate(program["file_entry"]):
            name = text(entry.name)
            # DWARF 5 numbers files and directories from 0 (directory 0 is the CU's own);
            # earlier versions number both from 1, directory 0 meaning the CU's directory.
            d = entry.dir_index if version >= 5 else entry.dir_index - 1
            if 0 <= d < len(dirs) and (version < 5 or d > 0) and not name.startswith("/"):
                name = posixpath.join(dirs[d], name)
            names[i if version >= 5 else i + 1] = name
        return names

    def _lines_of(self, cu: CompileUnit) -> tuple[list[int], list[SourceLine]]:
        found = self._lines.get(cu.cu_offset)
        if found is not None:
            return found
        rows: list[tuple[int, SourceLine]] = []
        program = self.dwarf.line_program_for_CU(cu)
        names = self._file_names(cu)
        for entry in program.get_entries() if program is not None else []:
            state = entry.state
            if state is None:
                continue
            if state.end_sequence:
                rows.append((state.address, SourceLine(None, None, None)))
            else:
                rows.append(
                    (state.address, SourceLine(names.get(state.file), state.line, state.column))
                )
        rows.sort(key=lambda r: r[0])  # stable: within one address the last row wins below
        starts: list[int] = []
        lines: list[SourceLine] = []
        for address, line in rows:
            if starts and starts[-1] == address:
                lines[-1] = line
            else:
                starts.append(address)
                lines.append(line)
        self._lines[cu.cu_offset] = (starts, lines)
        return starts, lines


def _section_bytes(stream: object) -> bytes:
    """A DWARF section's bytes (pyelftools holds each in a BytesIO)."""
    getvalue = getattr(stream, "getvalue", None)
    if getvalue is not None:
        return bytes(getvalue())
    stream.seek(0)  # type: ignore[attr-defined]
    return bytes(stream.read())  # type: ignore[attr-defined]


def die_ranges(dwarf: DWARFInfo, die: DIE) -> list[tuple[int, int]]:
    """The address ranges [lo, hi) a DIE covers (low/high pc or ``DW_AT_ranges``)."""
    attrs = die.attributes
    if "DW_AT_low_pc" in attrs and "DW_AT_high_pc" in attrs:
        lo = attrs["DW_AT_low_pc"].value
        high = attrs["DW_AT_high_pc"]
        hi = high.value if high.form == "DW_FORM_addr" else lo + high.value
        return [(lo, hi)] if hi > lo else []
    if "DW_AT_ranges" not in attrs:
        return []
    lists = dwarf.range_lists()
    if lists is None:
        return []
    top = die.cu.get_top_DIE()
    base = top.attributes["DW_AT_low_pc"].value if "DW_AT_low_pc" in top.attributes else 0
    out = []
    for entry in lists.get_range_list_at_offset(
        attrs["DW_AT_ranges"].value,
        cu=die.cu,  # type: ignore[arg-type]
    ):
        if isinstance(entry, BaseAddressEntry):
            base = entry.base_address
        elif entry.begin_offset < entry.end_offset:
            absolute = getattr(entry, "is_absolute", False)
            delta = 0 if absolute else base
            out.append((entry.begin_offset + delta, entry.end_offset + delta))
    return out
