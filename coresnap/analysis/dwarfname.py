"""Struct layouts and data symbols from a program's own debug info, found by name, fast.

A runtime's structures (Go's ``runtime.g``, ``runtime._panic``) change layout between
releases, so their member offsets are read from the program's DWARF rather than hard-coded.
Parsing every DIE of a Go binary takes seconds in Python; instead the struct's name is searched
as bytes in ``.debug_info`` (Go writes names inline, ``DW_FORM_string``) and only the DIE that
starts one byte before it (its abbreviation code) is parsed, and kept if it is that struct.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from elftools.common.exceptions import DWARFError, ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

MAX_CANDIDATES = 64  # occurrences of a name tried before giving up (it is also a substring)
_ERRORS = (OSError, ELFError, DWARFError, KeyError, ValueError, AttributeError, AssertionError)


@functools.lru_cache(maxsize=8)
def _dwarf(path: str) -> tuple[Any, bytes] | None:
    try:
        with open(path, "rb") as f:  # pyelftools copies (and decompresses) the sections it reads
            elf = ELFFile(f)
            if not elf.has_dwarf_info():
                return None
            info = elf.get_dwarf_info()
            section = info.debug_info_sec
            if section is None:
                return None
            section.stream.seek(0)
            return info, section.stream.read()
    except _ERRORS:
        return None


@functools.lru_cache(maxsize=256)
def _members(path: str, name: str) -> tuple[tuple[str, int], ...] | None:
    found = _dwarf(path) if os.path.isfile(path) else None
    if found is None:
        return None
    info, data = found
    needle = name.encode() + b"\0"
    pos = data.find(needle)
    for _ in range(MAX_CANDIDATES):
        if pos <= 0:
            return None
        try:
            die = info.get_DIE_from_refaddr(pos - 1)
            if (
                die.tag == "DW_TAG_structure_type"
                and die.attributes["DW_AT_name"].value == needle[:-1]
            ):
                return tuple(
                    (
                        child.attributes["DW_AT_name"].value.decode(),
                        child.attributes["DW_AT_data_member_location"].value,
                    )
                    for child in die.iter_children()
                    if child.tag == "DW_TAG_member"
                    and "DW_AT_data_member_location" in child.attributes
                )
        except _ERRORS:  # not a DIE start (the name inside another string): try the next
            pass
        pos = data.find(needle, pos + 1)
    return None


def struct_members(path: str, *names: str) -> dict[str, int] | None:
    """Member name -> byte offset of the first of ``names`` (a struct's names across versions)
    described in the DWARF of the ELF file ``path``; None without debug info or such struct."""
    for name in names:
        found = _members(path, name)
        if found:
            return dict(found)
    return None


def member(members: dict[str, int] | None, *names: str) -> int | None:
    """The offset of the first of ``names`` present in ``members`` (a renamed field)."""
    return next((members[n] for n in names if members and n in members), None)


@functools.lru_cache(maxsize=64)
def data_symbol(path: str, name: str) -> int | None:
    """The link-time address of the symbol ``name`` (data included) in ``path``'s ``.symtab``."""
    try:
        with open(path, "rb") as f:
            section = ELFFile(f).get_section_by_name(".symtab")
            if not isinstance(section, SymbolTableSection):
                return None
            found = section.get_symbol_by_name(name)
            return int(found[0]["st_value"]) if found else None
    except _ERRORS:
        return None
