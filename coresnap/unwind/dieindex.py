"""A fast index of one compile unit's scopes, read straight from ``.debug_info`` bytes.

pyelftools parses every attribute of every DIE it walks (~60 µs a DIE): finding the function
around one address in a C++ compile unit (thousands of DIEs from the standard headers) took
0.2 s, more than the rest of a snapshot. This module walks the unit once, sizing attributes
from the abbreviation table (DWARF 5, section 7.5.6, "Form Encodings") without building
objects, and keeps only the scopes: namespaces, classes, functions, inlined calls and lexical
blocks, with their parent and their ``DW_AT_low_pc``/``DW_AT_high_pc``. Everything else
(names, range lists, call sites) is read with pyelftools from the few DIEs a lookup lands on.

Forms this walker does not know (vendor extensions) raise :class:`DieIndexError`: the caller
then uses pyelftools' slower walk.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from elftools.dwarf.compileunit import CompileUnit
from elftools.dwarf.enums import ENUM_DW_AT, ENUM_DW_FORM, ENUM_DW_TAG

from coresnap.errors import DieIndexError

SCOPE_TAGS = frozenset(
    ENUM_DW_TAG[t]
    for t in (
        "DW_TAG_compile_unit",
        "DW_TAG_partial_unit",
        "DW_TAG_namespace",
        "DW_TAG_module",
        "DW_TAG_class_type",
        "DW_TAG_structure_type",
        "DW_TAG_union_type",
        "DW_TAG_interface_type",
        "DW_TAG_subprogram",
        "DW_TAG_inlined_subroutine",
        "DW_TAG_lexical_block",
    )
)
DW_TAG_subprogram = ENUM_DW_TAG["DW_TAG_subprogram"]
_LOW, _HIGH, _RANGES = (ENUM_DW_AT[a] for a in ("DW_AT_low_pc", "DW_AT_high_pc", "DW_AT_ranges"))
_F = ENUM_DW_FORM
_ULEB = frozenset(
    _F[f]
    for f in (
        "DW_FORM_udata", "DW_FORM_sdata", "DW_FORM_ref_udata", "DW_FORM_strx", "DW_FORM_addrx",
        "DW_FORM_loclistx", "DW_FORM_rnglistx", "DW_FORM_GNU_addr_index", "DW_FORM_GNU_str_index",
    )
)  # fmt: skip
_BLOCK_LEN = {_F["DW_FORM_block1"]: 1, _F["DW_FORM_block2"]: 2, _F["DW_FORM_block4"]: 4}
_ULEB_BLOCK = frozenset((_F["DW_FORM_block"], _F["DW_FORM_exprloc"]))
_ADDR_INDEX = frozenset(_F[f] for f in ("DW_FORM_addrx", "DW_FORM_GNU_addr_index", "DW_FORM_addrx1",
                                        "DW_FORM_addrx2", "DW_FORM_addrx3", "DW_FORM_addrx4"))  # fmt: skip
_CONSTANT = frozenset(_F[f] for f in ("DW_FORM_data1", "DW_FORM_data2", "DW_FORM_data4",
                                      "DW_FORM_data8", "DW_FORM_udata"))  # fmt: skip
# How a program step reads or skips an attribute: n fixed bytes, a LEB128, a C string, a block
# with an n-byte length, a block with a LEB128 length.
_FIXED, _LEB, _CSTR, _BLOCK, _LEBBLOCK = range(5)
# What the value is kept as (0: not kept).
_KEEP_LOW, _KEEP_LOW_INDEX, _KEEP_HIGH, _KEEP_HIGH_INDEX, _KEEP_LENGTH, _KEEP_RANGES = range(1, 7)


@dataclass
class ScopeIndex:
    """The scopes of one unit: parent, tag and direct ``low_pc``/``high_pc`` of each, by offset."""

    tags: dict[int, int] = field(default_factory=dict)
    parents: dict[int, int] = field(default_factory=dict)
    bounds: dict[int, tuple[int, int]] = field(default_factory=dict)  # [low_pc, high_pc)
    ranged: set[int] = field(default_factory=set)  # scopes with DW_AT_ranges (read by the caller)
    functions: list[tuple[int, int, int]] = field(default_factory=list)  # (lo, hi, offset), sorted
    _children: dict[int, list[int]] | None = None

    def children(self, offset: int) -> list[int]:
        """The scopes directly inside ``offset``, in DIE order (built on first use)."""
        if self._children is None:
            self._children = {}
            for child, parent in self.parents.items():
                self._children.setdefault(parent, []).append(child)
        return self._children.get(offset, [])

    def function_at(self, address: int) -> tuple[int, int] | None:
        """(low_pc, offset) of the subprogram whose low/high pc holds ``address``."""
        i = bisect.bisect_right(self.functions, (address, 1 << 64, 0)) - 1
        while i >= 0:
            lo, hi, offset = self.functions[i]
            if lo <= address < hi:
                return lo, offset
            if address - lo > 1 << 24:  # functions do not nest: far enough back, none holds it
                return None
            i -= 1
        return None


class AddressTable:
    """``.debug_addr`` from this unit's ``DW_AT_addr_base``, for ``DW_FORM_addrx`` (DWARF 5,
    clang's default), read on first use: ``load`` returns (section bytes, base) or None."""

    def __init__(self, load: Callable[[], tuple[bytes, int] | None]) -> None:
        self._load = load
        self._table: tuple[bytes, int] | None | bool = False

    def get(self, index: int, size: int) -> int | None:
        if self._table is False:
            self._table = self._load()
        if not isinstance(self._table, tuple):
            return None
        data, base = self._table
        start = base + index * size
        return int.from_bytes(data[start : start + size], "little")


def index_unit(
    data: bytes, abbrev: bytes, cu: CompileUnit, addresses: AddressTable | None = None
) -> ScopeIndex:
    """Walk the DIEs of ``cu`` (``data`` is all of ``.debug_info``, ``abbrev`` of
    ``.debug_abbrev``). Raises :class:`DieIndexError` on a form it cannot size."""
    if not cu.structs.little_endian:
        raise DieIndexError(cu.cu_offset, "big-endian DWARF")  # pyelftools reads those
    address_size = cu["address_size"]
    offset_size = 8 if cu.structs.dwarf_format == 64 else 4
    programs = _programs(abbrev, cu["debug_abbrev_offset"], address_size, offset_size, cu)
    index = ScopeIndex()
    tags, parents = index.tags, index.parents
    end = min(cu.cu_offset + cu.size, len(data))
    pos = cu.cu_die_offset
    stack: list[int] = []
    # The hot loop of a snapshot of a Rust program (the std unit: 800 KB, 47,000 scopes):
    # one-byte codes and fixed-size DIEs take the short paths.
    while pos < end:
        here = pos
        code = data[pos]
        if code < 0x80:
            pos += 1
        else:
            code, pos = _uleb(data, pos)
        if code == 0:
            if stack:
                stack.pop()
            continue
        program = programs.get(code)
        if program is None:
            raise DieIndexError(here, f"abbreviation {code} not in the table")
        tag = program.tag
        if tag in SCOPE_TAGS:
            tags[here] = tag
            if stack:
                parents[here] = stack[-1]
            if program.keeps:
                pos = _keep(index, here, program, data, pos, addresses, address_size)
            elif program.size >= 0:
                pos += program.size
            else:
                pos = _run(data, pos, program.tail, None, program.head)
        elif program.size >= 0:
            pos += program.size
        else:
            pos = _run(data, pos, program.tail, None, program.head)
        if pos > end:
            raise DieIndexError(here, "DIE runs past the end of its unit")
        if program.has_children:
            stack.append(here)
    index.functions.sort()
    return index


def _keep(
    index: ScopeIndex,
    offset: int,
    program: Program,
    data: bytes,
    pos: int,
    addresses: AddressTable | None,
    size: int,
) -> int:
    """Read a scope's pc bounds (or that it has DW_AT_ranges); return the next DIE's offset."""
    if program.direct and program.head is not None:  # the common case, without a dict
        low, high = program.head.unpack_from(data, pos)
        if program.head_keeps[1] == _KEEP_LENGTH:
            high += low
        if high > low:
            index.bounds[offset] = (low, high)
            if program.tag == DW_TAG_subprogram:
                index.functions.append((low, high, offset))
        if program.size >= 0:
            return pos + program.size
        return _run(data, pos + program.head.size, program.tail, None, None)
    kept: dict[int, int] = {}
    if program.head is not None:
        kept.update(zip(program.head_keeps, program.head.unpack_from(data, pos), strict=True))
        pos += program.head.size
    pos = _run(data, pos, program.tail, kept, None)
    _record(index, offset, program.tag, kept, addresses, size)
    return pos


def _record(
    index: ScopeIndex,
    offset: int,
    tag: int,
    kept: dict[int, int],
    addresses: AddressTable | None,
    size: int,
) -> None:
    if _KEEP_RANGES in kept:
        index.ranged.add(offset)
    low = kept.get(_KEEP_LOW)
    high = kept.get(_KEEP_HIGH)
    if addresses is not None:
        if _KEEP_LOW_INDEX in kept:
            low = addresses.get(kept[_KEEP_LOW_INDEX], size)
        if _KEEP_HIGH_INDEX in kept:
            high = addresses.get(kept[_KEEP_HIGH_INDEX], size)
    if low is None:
        return
    if _KEEP_LENGTH in kept:
        high = low + kept[_KEEP_LENGTH]
    if high is not None and high > low:
        index.bounds[offset] = (low, high)
        if tag == DW_TAG_subprogram:
            index.functions.append((low, high, offset))


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    byte = data[pos]
    if byte < 0x80:
        return byte, pos + 1
    value, shift = byte & 0x7F, 7
    while True:
        pos += 1
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos + 1


Step = tuple[int, int, int]  # (how, size, keep)


def _run(
    data: bytes,
    pos: int,
    steps: tuple[Step, ...],
    kept: dict[int, int] | None,
    head: struct.Struct | None,
) -> int:
    """Read past one DIE's attributes (``head``'s fixed bytes first); with ``kept``, store
    the values the steps keep."""
    if head is not None:
        pos += head.size
    for how, size, keep in steps:
        if how == _FIXED:
            if keep and kept is not None:
                kept[keep] = int.from_bytes(data[pos : pos + size], "little")
            pos += size
        elif how == _LEB:
            value, pos = _uleb(data, pos)
            if keep and kept is not None:
                kept[keep] = value
        elif how == _CSTR:
            pos = data.index(b"\0", pos) + 1
        elif how == _BLOCK:
            pos += size + int.from_bytes(data[pos : pos + size], "little")
        else:
            length, pos = _uleb(data, pos)
            pos += length
    return pos


_STRUCT_CODES = {1: "B", 2: "H", 4: "I", 8: "Q"}


@dataclass(frozen=True)
class Program:
    """How to read past one abbreviation's DIE, fastest first: ``size`` when every form is
    fixed (one add), else ``head`` (a Struct over the leading fixed forms, unpacking the
    values in ``head_keeps``: low_pc and high_pc come first in GCC's and LLVM's DIEs) and
    the ``tail`` steps."""

    tag: int
    has_children: bool
    size: int  # -1 when some form has a variable size
    keeps: bool
    head: struct.Struct | None
    head_keeps: tuple[int, ...]
    tail: tuple[Step, ...]
    direct: bool  # low_pc and high_pc (an address or a length) are both in the head


def _program(tag: int, has_children: bool, steps: tuple[Step, ...]) -> Program:
    fmt, keeps = "<", []
    n = 0
    for how, size, keep in steps:
        if how != _FIXED or (keep and size not in _STRUCT_CODES):
            break
        fmt += _STRUCT_CODES[size] if keep else f"{size}x"
        keeps += [keep] if keep else []
        n += 1
    head = struct.Struct(fmt) if n else None
    size = sum(s[1] for s in steps) if all(s[0] == _FIXED for s in steps) else -1
    any_keep = any(s[2] for s in steps)
    direct = (
        keeps[:2] in ([_KEEP_LOW, _KEEP_HIGH], [_KEEP_LOW, _KEEP_LENGTH])
        and not any(s[2] for s in steps[n:])
        and len(keeps) == 2
    )
    return Program(tag, has_children, size, any_keep, head, tuple(keeps), steps[n:], direct)


def _programs(
    abbrev: bytes, offset: int, address_size: int, offset_size: int, cu: CompileUnit
) -> dict[int, Program]:
    """Abbreviation code -> its :class:`Program`, parsed from ``.debug_abbrev``."""
    fixed = _fixed_sizes(address_size, offset_size, cu["version"])
    programs: dict[int, Program] = {}
    pos = offset
    while True:
        code, pos = _uleb(abbrev, pos)
        if code == 0:
            return programs
        tag, pos = _uleb(abbrev, pos)
        has_children = abbrev[pos] == 1
        pos += 1
        steps: list[Step] = []
        while True:
            attr, pos = _uleb(abbrev, pos)
            form, pos = _uleb(abbrev, pos)
            if attr == 0 and form == 0:
                break
            if form == _F["DW_FORM_implicit_const"]:
                _, pos = _uleb(abbrev, pos)  # the value lives in the abbreviation, not the DIE
                continue
            steps.append(_step(attr, form, fixed, offset))
        programs[code] = _program(tag, has_children, _merge(steps))


def _step(attr: int, form: int, fixed: dict[int, int], abbrev_offset: int) -> Step:
    how, size = _how(form, fixed, abbrev_offset)
    keep = 0
    if attr == _LOW:
        keep = _KEEP_LOW_INDEX if form in _ADDR_INDEX else _KEEP_LOW
    elif attr == _HIGH:
        # DWARF 4 made a constant high_pc the function's length (section 2.17.2).
        keep = _KEEP_HIGH_INDEX if form in _ADDR_INDEX else _KEEP_HIGH
        keep = _KEEP_LENGTH if form in _CONSTANT else keep
    elif attr == _RANGES:
        keep = _KEEP_RANGES
    return how, size, keep


def _how(form: int, fixed: dict[int, int], abbrev_offset: int) -> tuple[int, int]:
    if form in fixed:
        return _FIXED, fixed[form]
    if form in _ULEB:
        return _LEB, 0
    if form == _F["DW_FORM_string"]:
        return _CSTR, 0
    if form in _BLOCK_LEN:
        return _BLOCK, _BLOCK_LEN[form]
    if form in _ULEB_BLOCK:
        return _LEBBLOCK, 0
    # DW_FORM_indirect names its form in the DIE itself; the few producers using it are not
    # worth a slower walker (the caller falls back to pyelftools).
    raise DieIndexError(abbrev_offset, f"abbreviation table uses form {form:#x}")


def _merge(steps: list[Step]) -> tuple[Step, ...]:
    """Fold runs of fixed-size skips into one (most DIEs become a single add)."""
    out: list[Step] = []
    for step in steps:
        if step[0] == _FIXED and not step[2] and out and out[-1][0] == _FIXED and not out[-1][2]:
            out[-1] = (_FIXED, out[-1][1] + step[1], 0)
        else:
            out.append(step)
    return tuple(out)


def _fixed_sizes(address_size: int, offset_size: int, version: int) -> dict[int, int]:
    sizes = {
        "DW_FORM_addr": address_size,
        "DW_FORM_data1": 1, "DW_FORM_data2": 2, "DW_FORM_data4": 4, "DW_FORM_data8": 8,
        "DW_FORM_data16": 16, "DW_FORM_flag": 1, "DW_FORM_flag_present": 0,
        "DW_FORM_ref1": 1, "DW_FORM_ref2": 2, "DW_FORM_ref4": 4, "DW_FORM_ref8": 8,
        "DW_FORM_ref_sig8": 8, "DW_FORM_ref_sup4": 4, "DW_FORM_ref_sup8": 8,
        # DWARF 2 wrote DW_FORM_ref_addr with the size of an address, later versions of an offset.
        "DW_FORM_ref_addr": address_size if version <= 2 else offset_size,
        "DW_FORM_sec_offset": offset_size, "DW_FORM_strp": offset_size,
        "DW_FORM_line_strp": offset_size, "DW_FORM_strp_sup": offset_size,
        "DW_FORM_GNU_strp_alt": offset_size, "DW_FORM_GNU_ref_alt": offset_size,
        "DW_FORM_strx1": 1, "DW_FORM_strx2": 2, "DW_FORM_strx3": 3, "DW_FORM_strx4": 4,
        "DW_FORM_addrx1": 1, "DW_FORM_addrx2": 2, "DW_FORM_addrx3": 3, "DW_FORM_addrx4": 4,
    }  # fmt: skip
    return {_F[name]: size for name, size in sizes.items()}
