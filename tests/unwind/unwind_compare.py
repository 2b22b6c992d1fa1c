"""Compare our frames with gdb's, frame by frame, treating symbol aliases as one name."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from coresnap.unwind import UnwoundFrame
from coresnap.unwind.objfile import debug_file_for
from tests.unwind.unwind_oracles import GdbFrame


@cache
def _aliases(path: str, build_id: str | None) -> dict[str, int]:
    """name -> address for every symbol of the file and its debug file."""
    names: dict[str, int] = {}
    for p in (path, debug_file_for(build_id)):
        if p is None:
            continue
        try:
            with open(p, "rb") as f:
                for section in ELFFile(f).iter_sections():
                    if isinstance(section, SymbolTableSection):
                        for sym in section.iter_symbols():
                            if sym.name and sym["st_value"]:
                                names.setdefault(sym.name, sym["st_value"])
        except OSError:
            pass
    return names


def same_function(ours: UnwoundFrame, theirs: str) -> bool:
    """Same name, or two names of the same address in the frame's module (glibc aliases)."""
    if ours.function == theirs or (ours.function is None and theirs == "??"):
        return True
    if ours.function is None or ours.module is None or theirs == "??":
        return False
    names = _aliases(ours.module, ours.build_id)
    a, b = names.get(ours.function), names.get(theirs)
    return a is not None and a == b


@dataclass
class Agreement:
    """gdb's frames we also produce (``agree``) out of gdb's ``total``.

    ``wrong``: one of our frames differs from gdb's at that place; ``gdb_only``: gdb has a
    frame we lack and the rest still lines up (gdb's virtual tail-call frames, built from
    DW_TAG_call_site, are the known case).
    """

    agree: int = 0
    total: int = 0
    wrong: list[str] = field(default_factory=list)
    gdb_only: list[str] = field(default_factory=list)

    def add(self, other: Agreement) -> None:
        self.agree += other.agree
        self.total += other.total
        self.wrong += other.wrong
        self.gdb_only += other.gdb_only


def _matches(ours: list[UnwoundFrame], i: int, theirs: GdbFrame) -> bool:
    if i >= len(ours):
        return False
    mine = ours[i]
    if theirs.signal_trampoline:
        ok = i + 1 < len(ours) and ours[i + 1].how == "signal"
    else:
        ok = same_function(mine, theirs.function)
    return ok and (theirs.pc is None or mine.inline or theirs.pc == mine.pc)


def compare_thread(tid: int, ours: list[UnwoundFrame], gdb: list[GdbFrame]) -> Agreement:
    """Align gdb's frames with ours in order: function names, and pcs where gdb prints one."""
    result = Agreement(total=len(gdb))
    i = 0
    for j, theirs in enumerate(gdb):
        if _matches(ours, i, theirs):
            result.agree += 1
            i += 1
        elif j + 1 < len(gdb) and _matches(ours, i, gdb[j + 1]):
            result.gdb_only.append(f"tid {tid} gdb #{j} {theirs.function} only in gdb")
        else:
            mine = ours[i] if i < len(ours) else None
            desc = f"{mine.function} {mine.pc:#x} ({mine.how})" if mine else "nothing"
            result.wrong.append(f"tid {tid} #{j}: ours {desc}, gdb {theirs.function}")
            i += 1
    return result
