"""Frames of functions that tail-called their callee, rebuilt from DWARF call-site records.

A function that ends in ``jmp callee`` leaves no return address: the stack goes from its
caller straight to the callee. DWARF 5 call-site entries (``DW_TAG_call_site``, GNU
``DW_TAG_GNU_call_site`` before) say, at each call in a function, its return address and
target, and mark tail calls (``DW_AT_call_tail_call``). From the call that produced a return
address we know the function called; if that is not the callee we unwound from, the only
way there is a chain of tail calls, which we rebuild when it is unique, as gdb does
(``dwarf2/frame-tailcall.c``, ``call_site_find_chain``).
"""

from __future__ import annotations

from collections.abc import Iterator

from elftools.dwarf.die import DIE

from coresnap.unwind.debuginfo import DebugInfo
from coresnap.unwind.names import die_name
from coresnap.unwind.objfile import ObjectFile

_CALL_SITE_TAGS = ("DW_TAG_call_site", "DW_TAG_GNU_call_site")
_RETURN_PC = ("DW_AT_call_return_pc", "DW_AT_low_pc")
_ORIGIN = ("DW_AT_call_origin", "DW_AT_abstract_origin")
_TAIL = ("DW_AT_call_tail_call", "DW_AT_GNU_tail_call")
MAX_DEPTH = 4  # tail-call chains longer than this are not searched (gdb: no limit, but unique)


def tail_call_chain(obj: ObjectFile, return_link: int, callee_start: int) -> list[int]:
    """Link-time pcs of the virtual frames between a caller and its callee, innermost first.

    ``return_link`` is the caller's return address and ``callee_start`` the entry of the
    function unwound from, both link-time. Empty when the call went straight to the callee,
    or when the chain is unknown or ambiguous.
    """
    debug = obj.debug
    if debug is None:
        return []
    caller = debug.function_at(return_link - 1)
    if caller is None:
        return []
    site = next((s for s in _call_sites(caller[1]) if _return_pc(s) == return_link), None)
    target = _target(obj, site) if site is not None else None
    if target is None or target == callee_start:
        return []
    paths = list(_paths(obj, debug, target, callee_start, MAX_DEPTH))
    if len(paths) != 1:
        return []
    return list(reversed(paths[0]))


def _paths(
    obj: ObjectFile, debug: DebugInfo, function: int, goal: int, depth: int
) -> Iterator[list[int]]:
    """Chains of tail-call return pcs leading from ``function`` to ``goal``."""
    if depth == 0:
        return
    found = debug.function_at(function)
    if found is None:
        return
    for site in _call_sites(found[1]):
        if not any(a in site.attributes for a in _TAIL):
            continue
        target, ret = _target(obj, site), _return_pc(site)
        if target is None or ret is None:
            continue
        if target == goal:
            yield [ret]
        else:
            for rest in _paths(obj, debug, target, goal, depth - 1):
                yield [ret, *rest]


def _call_sites(die: DIE) -> Iterator[DIE]:
    for child in die.iter_children():
        if child.tag in _CALL_SITE_TAGS:
            yield child
        elif child.has_children:
            yield from _call_sites(child)


def _return_pc(site: DIE) -> int | None:
    for attr in _RETURN_PC:
        if attr in site.attributes:
            return int(site.attributes[attr].value)
    return None


def _target(obj: ObjectFile, site: DIE) -> int | None:
    """Entry address of the function a call site calls (direct calls only)."""
    for attr in _ORIGIN:
        if attr in site.attributes:
            origin = site.get_DIE_from_attribute(attr)
            if "DW_AT_low_pc" in origin.attributes:
                return int(origin.attributes["DW_AT_low_pc"].value)
            name = die_name(origin)
            symbol = obj.symbols.by_name(name) if name else None
            return symbol.start if symbol is not None else None
    return None
