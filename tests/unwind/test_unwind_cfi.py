"""CFI tables, rules and symbols checked against binutils on real binaries."""

from __future__ import annotations

from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from coresnap.unwind.arch import X86_64
from coresnap.unwind.cfi import FrameTable, load_frame_table
from coresnap.unwind.ehframehdr import load_indexed_table
from coresnap.unwind.objfile import open_object
from coresnap.unwind.rules import Row, row_at
from tests.crashes import build
from tests.unwind.unwind_oracles import addr2line, readelf_frames

LIBC = Path("/usr/lib/x86_64-linux-gnu/libc.so.6")
READELF_NAMES = {**X86_64.dwarf_names, 16: "ra"}


def _cfa_text(row: Row) -> str:
    if row.cfa.expression is not None:
        return "exp"
    return f"{READELF_NAMES[row.cfa.register or 0]}{row.cfa.offset:+d}"


def _rule_text(row: Row, column: str) -> str:
    number = next(n for n, name in READELF_NAMES.items() if name == column)
    rule = row.registers.get(number)
    if rule is None or rule.kind == "undefined":
        return "u"
    return {
        "same": "s",
        "offset": f"c{rule.value:+d}",
        "val_offset": f"v{rule.value:+d}",
        "register": READELF_NAMES.get(rule.value, str(rule.value)),
        "expression": "exp",
        "val_expression": "vexp",
    }[rule.kind]


def _full(elf: ELFFile, path: str) -> FrameTable | None:
    return load_frame_table(elf, path, ".eh_frame")


LOADERS = {"full": _full, "indexed": load_indexed_table}


def _compare_with_readelf(path: Path, loader: str) -> int:
    with path.open("rb") as f:
        table = LOADERS[loader](ELFFile(f), str(path))
        assert table is not None
        checked = 0
        for fde in readelf_frames(path):
            entry = table.find(fde.start)
            assert entry is not None and (entry.start, entry.end) == (fde.start, fde.end)
            for loc, cfa, cells in fde.rows:
                row = row_at(entry, loc)
                assert _cfa_text(row) == cfa, (hex(loc), row)
                for column, cell in cells.items():
                    assert _rule_text(row, column) == cell, (hex(loc), column, row)
                checked += 1
    return checked


@pytest.fixture(scope="module")
def o2_exe() -> Path:
    return build("unw_calls.c", flags=("-g", "-O2"), name="unw_calls-O2")


@pytest.mark.parametrize("loader", LOADERS)
def test_rows_match_readelf_on_a_test_program(o2_exe: Path, loader: str) -> None:
    assert _compare_with_readelf(o2_exe, loader) > 20


def test_rows_match_readelf_on_libc() -> None:
    # ~3700 FDEs of hand-written and compiled code, incl. the signal trampoline's expressions,
    # found through .eh_frame_hdr as the unwinder does.
    assert _compare_with_readelf(LIBC, "indexed") > 10000


def test_eh_frame_hdr_index_finds_the_same_fdes_as_a_full_parse(o2_exe: Path) -> None:
    for path in (o2_exe, LIBC):
        with path.open("rb") as f:
            elf = ELFFile(f)
            full, indexed = _full(elf, str(path)), load_indexed_table(elf, str(path))
            assert full is not None and indexed is not None and len(full) == len(indexed)
            for entry in full.entries:
                for address in (entry.start, entry.end - 1):
                    found = indexed.find(address)
                    assert found is not None and (found.start, found.end) == (
                        entry.start,
                        entry.end,
                    )


def test_signal_trampoline_fde_is_marked() -> None:
    obj = open_object(str(LIBC))
    restore = obj.symbols.by_name("__restore_rt")
    assert restore is not None
    entry = obj.find_frame(restore.start)
    assert entry is not None and entry.signal_frame
    row = row_at(entry, restore.start)
    assert row.cfa.expression is not None  # CFA = *(rsp + oRSP): the saved ucontext's rsp
    assert row.registers[16].kind == "expression"
    assert not obj.find_frame(obj.symbols.by_name("abort").start).signal_frame  # type: ignore[union-attr]


def test_symbols_and_inline_chains_match_addr2line(o2_exe: Path) -> None:
    obj = open_object(str(o2_exe))
    assert obj.debug is not None
    checked = 0
    for sym in obj.symbols.symbols:
        for address in range(sym.start, sym.start + sym.size, 3):
            expected = addr2line(o2_exe, address)
            scopes = obj.debug.scopes(address)
            if not scopes or expected[0][0] == "??":
                continue
            names = [s.name for s in reversed(scopes)]
            assert names == [e[0] for e in expected], hex(address)
            line = obj.debug.line(address)
            assert line is not None and line.line == expected[0][2], hex(address)
            calls = [s.call_site.line for s in reversed(scopes) if s.call_site]
            assert calls == [e[2] for e in expected[1:]], hex(address)
            checked += 1
    assert checked > 50


def test_stripped_binary_keeps_dynsym_and_eh_frame(tmp_path: Path) -> None:
    exe = build("unw_calls.c", flags=("-O2", "-s", "-rdynamic"), name="unw_calls-stripped")
    obj = open_object(str(exe))
    assert obj.elf.get_section_by_name(".symtab") is None
    level2 = obj.symbols.by_name("level2")
    assert level2 is not None  # exported by -rdynamic into .dynsym
    assert obj.symbols.lookup(level2.start + 1) == (level2, 1)
    assert obj.find_frame(level2.start) is not None
    assert obj.debug is None
