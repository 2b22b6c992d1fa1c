"""The scope index (coresnap.unwind.dieindex) read from raw bytes agrees with pyelftools' own
walk of the same units, DIE by DIE: every scope (namespace, class, function, inlined call,
lexical block) with its tag, parent and low/high pc. On GCC's DWARF 5 (C, C++ at -O2), clang's
(``DW_FORM_addrx`` through ``.debug_addr``), and glibc's separate debug file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from elftools.dwarf.enums import ENUM_DW_TAG
from elftools.elf.elffile import ELFFile

from coresnap.unwind.debuginfo import die_ranges
from coresnap.unwind.dieindex import SCOPE_TAGS, AddressTable, index_unit
from tests.crashes import build

MAX_UNITS = 6  # units checked per file (glibc has hundreds: the first ones are enough)


def _libc_debug_file() -> Path | None:
    from coresnap.corefile.buildid import file_build_id
    from coresnap.unwind.objfile import debug_file_for

    for libc in ("/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6"):
        if Path(libc).exists():
            found = debug_file_for(file_build_id(libc))
            return Path(found) if found else None
    return None


def _clang_build(tmp: Path) -> Path:
    clang = shutil.which("clang++")
    if clang is None:
        pytest.skip("clang++ not installed (tools/setup-system.sh installs it)")
    import subprocess

    out = tmp / "inline-clang"
    src = Path(__file__).parents[1] / "programs" / "snap_inline.cc"
    subprocess.run([clang, "-g", "-O2", "-o", str(out), str(src)], check=True)
    return out


def _binary(kind: str, tmp: Path) -> Path:
    if kind == "gcc-c":
        return build("snap_basic.c", flags=("-g", "-O2"))
    if kind == "gcc-cxx":
        return build("snap_inline.cc", flags=("-g", "-O2"))
    if kind == "clang-cxx":
        return _clang_build(tmp)
    found = _libc_debug_file()
    if found is None:
        pytest.skip("glibc's debug file is not installed (libc6-dbg)")
    return found


def _addresses(dwarf: object, cu: object) -> AddressTable:
    """clang's units name addresses by index into .debug_addr, from their DW_AT_addr_base."""

    def load() -> tuple[bytes, int] | None:
        base = cu.get_top_DIE().attributes.get("DW_AT_addr_base")  # type: ignore[attr-defined]
        section = dwarf.debug_addr_sec  # type: ignore[attr-defined]
        return None if base is None or section is None else (section.stream.getvalue(), base.value)

    return AddressTable(load)


@pytest.mark.parametrize("kind", ["gcc-c", "gcc-cxx", "clang-cxx", "libc-debug"])
def test_index_agrees_with_pyelftools(kind: str, tmp_path: Path) -> None:
    path = _binary(kind, tmp_path)
    with open(path, "rb") as f:
        dwarf = ELFFile(f).get_dwarf_info(relocate_dwarf_sections=False)
        info = dwarf.debug_info_sec.stream.getvalue()  # type: ignore[union-attr]
        abbrev = dwarf.debug_abbrev_sec.stream.getvalue()  # type: ignore[union-attr]
        checked = with_bounds = 0
        for n, cu in enumerate(dwarf.iter_CUs()):
            if n >= MAX_UNITS:
                break
            index = index_unit(info, abbrev, cu, _addresses(dwarf, cu))
            for die in cu.iter_DIEs():
                if die.is_null() or ENUM_DW_TAG.get(die.tag) not in SCOPE_TAGS:
                    continue
                checked += 1
                assert index.tags[die.offset] == ENUM_DW_TAG[die.tag]
                parent = die.get_parent()
                assert index.parents.get(die.offset) == (parent.offset if parent else None)
                direct = "DW_AT_low_pc" in die.attributes and "DW_AT_high_pc" in die.attributes
                if direct and die_ranges(dwarf, die):
                    assert index.bounds[die.offset] == die_ranges(dwarf, die)[0]
                    with_bounds += 1
                assert (die.offset in index.ranged) == ("DW_AT_ranges" in die.attributes)
    assert checked >= 10 and with_bounds >= 3, (checked, with_bounds)


def test_addrx_table_is_read_only_when_needed(tmp_path: Path) -> None:
    """GCC's units use DW_FORM_addr: their index never loads .debug_addr."""
    path = build("snap_basic.c", flags=("-g", "-O2"))
    with open(path, "rb") as f:
        dwarf = ELFFile(f).get_dwarf_info(relocate_dwarf_sections=False)
        info = dwarf.debug_info_sec.stream.getvalue()  # type: ignore[union-attr]
        abbrev = dwarf.debug_abbrev_sec.stream.getvalue()  # type: ignore[union-attr]
        loads: list[int] = []

        def load() -> tuple[bytes, int] | None:
            loads.append(1)
            return None

        for cu in dwarf.iter_CUs():
            assert index_unit(info, abbrev, cu, AddressTable(load)).functions
    assert not loads
