"""Learned symbols: names for the frames of a stripped build, taken from its symbolised twin.

A stripped program's frames have a module, a build id and a pc offset but no function name, so
its crashes blame ``prog+0x11f0`` while the same crash of the unstripped build (same build id,
same code) blames ``prog!set_width`` at ``prog.c:19``: two groups for one bug. The store learns
from every snapshot it ingests, per project and build id, from the crashed thread's first
:data:`MAX_FRAMES` frames that have a name:

1. ``(build id, function start) -> name``: the function's entry (``function_start``, else the
   pc's module offset minus ``function_offset``) and its name as the snapshot spelled it;
2. ``(build id, pc's module offset) -> frames``: every frame at that exact pc, the inline ones
   first (function, function_offset, file, line, column, inline).

Before fingerprinting, a crashed-thread frame without a name is *filled*: with the frames of its
exact pc when that pc was seen (so lines and inline frames match the twin's), else with the name
of its function when ``function_start`` is known. Frames of a pc also come from the debug file
uploaded for its build (``debugsyms.py``; a pc that file names nothing at is kept with no
frames, so it is looked up once). The stored snapshot is never changed; the
object records what was filled (``objects.learned``, attribute ``symbols.learned``).
This module is the pure part; ``learned.py`` reads and keeps the facts in the database.

Bounds, per project: :data:`MAX_BUILDS` builds (the build that learned something longest ago is
forgotten first), each with at most :data:`MAX_FUNCTIONS` functions and :data:`MAX_PCS` pcs;
names and file names are cut at :data:`MAX_TEXT` characters, a pc keeps at most
:data:`MAX_CHAIN` frames.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from coresnap.analysis import document

MAX_FRAMES = 64
MAX_BUILDS = 128
MAX_FUNCTIONS = 1024
MAX_PCS = 1024
MAX_TEXT = 512
MAX_CHAIN = 8
_BUILD_ID = re.compile(r"^[0-9a-f]{8,128}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]+$")  # what some unwinders print for a nameless pc
# The fields a learned pc gives a filled frame.
PC_FIELDS = ("function", "function_offset", "file", "line", "column", "inline")

Key = tuple[str, int]  # (build id, module offset)


@dataclass
class Symbols:
    """Learned facts: function names by (build id, start), frames by (build id, pc offset).

    ``full`` names the builds that have no room left for ("functions" | "pcs").
    """

    functions: dict[Key, str] = field(default_factory=dict)
    pcs: dict[Key, list[dict[str, Any]]] = field(default_factory=dict)
    full: set[tuple[str, str]] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.functions or self.pcs)

    def update(self, other: Symbols) -> None:
        """Add ``other``'s facts (ours win where both know a key)."""
        self.functions = {**other.functions, **self.functions}
        self.pcs = {**other.pcs, **self.pcs}
        self.full |= other.full


def _place(frame: dict[str, Any]) -> Key | None:
    build, offset = frame.get("build_id"), _int(frame.get("module_offset"))
    if isinstance(build, str) and _BUILD_ID.match(build) and offset is not None:
        return build, offset
    return None


def _int(value: object) -> int | None:
    """``value`` if it is an offset a BIGINT column holds, else None."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 63:
        return value
    return None


def named(frame: dict[str, Any]) -> bool:
    """Whether a frame has a function name (not empty, not a bare address)."""
    name = frame.get("function")
    return isinstance(name, str) and bool(name.strip()) and not _ADDRESS.match(name)


def function_start(frame: dict[str, Any]) -> int | None:
    """The module offset of a frame's function entry, when the frame says or implies it."""
    start = _int(frame.get("function_start"))
    if start is not None:
        return start
    offset, at = _int(frame.get("function_offset")), _int(frame.get("module_offset"))
    if not frame.get("inline") and offset is not None and at is not None and at >= offset:
        return at - offset
    return None


def _text(value: object) -> object:
    return value[:MAX_TEXT] if isinstance(value, str) else value


def teach(doc: dict[str, Any]) -> Symbols:
    """What ``doc`` teaches: the named frames of its crashed thread (see the module doc)."""
    out = Symbols()
    chain: list[dict[str, Any]] = []
    for frame in document.crashed_frames(doc)[:MAX_FRAMES]:
        chain.append(frame)
        if frame.get("inline"):
            continue  # an inline frame shares its pc with the frames below, to the real one
        place, frames, chain = _place(frame), chain, []
        if place is None or not all(named(f) and _place(f) == place for f in frames):
            continue
        entries = [{k: _text(f.get(k)) for k in PC_FIELDS} for f in frames[:MAX_CHAIN]]
        out.pcs.setdefault(place, entries)
        start = function_start(frame)
        if start is not None:
            out.functions.setdefault((place[0], start), str(_text(frame["function"])))
    return out


def callers(doc: dict[str, Any]) -> list[tuple[int, Key]]:
    """The nameless callers a bad jump's evidence recovered (the return address at sp: the
    classification's ``facts.caller``, which the blame inserts as a frame), each with its place:
    (index of the evidence, (build id of its module, module offset of the return address))."""
    builds = {
        m.get("path"): m.get("build_id") for m in doc.get("modules") or [] if isinstance(m, dict)
    }
    out = []
    for i, e in enumerate(document.classification(doc).get("evidence") or []):
        facts = e.get("facts") if isinstance(e, dict) else None
        caller = facts.get("caller") if isinstance(facts, dict) else None
        if not isinstance(caller, dict) or named(caller):
            continue
        module = caller.get("module")
        place = _place(
            {**caller, "build_id": builds.get(module) if isinstance(module, str) else None}
        )
        if place is not None:
            out.append((i, place))
    return out


def wanted(doc: dict[str, Any]) -> tuple[set[Key], set[Key]]:
    """The (function, pc) keys worth reading for ``doc``: to fill its frames and its bad jump's
    caller, and to know which of its facts are new."""
    functions, pcs = set(), {place for _, place in callers(doc)}
    for frame in document.crashed_frames(doc)[:MAX_FRAMES]:
        place = _place(frame)
        if place is None:
            continue
        pcs.add(place)
        start = function_start(frame)
        if start is not None:
            functions.add((place[0], start))
    return functions, pcs


def news(taught: Symbols, known: Symbols) -> Symbols:
    """The facts of ``taught`` that ``known`` lacks and that have room to be kept."""
    return Symbols(
        {
            k: v
            for k, v in taught.functions.items()
            if k not in known.functions and (k[0], "functions") not in known.full
        },
        {
            k: v
            for k, v in taught.pcs.items()
            if k not in known.pcs and (k[0], "pcs") not in known.full
        },
    )


def fill(doc: dict[str, Any], known: Symbols) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``doc`` with its crashed thread's nameless frames filled from ``known`` (a copy; ``doc``
    is not changed), and what was filled: one record per filled frame."""
    frames = document.crashed_frames(doc)
    if not known:
        return doc, []
    doc, filled_callers = _fill_callers(doc, known)
    if not any(not named(f) for f in frames):
        return doc, filled_callers
    out: list[dict[str, Any]] = []
    filled: list[dict[str, Any]] = []
    for index, frame in enumerate(frames):
        place = None if named(frame) else _place(frame)
        new = _fill_frame(frame, place, known) if place is not None else None
        if new is None:
            out.append(frame)
            continue
        out.extend(new)
        assert place is not None
        by = "pc" if known.pcs.get(place) else "function"  # no frames: a pc a debug file lacks
        names = [str(f.get("function")) for f in new]
        filled.append(
            {
                "frame": index,
                "build_id": place[0],
                "module_offset": place[1],
                "by": by,
                "function": names,
            }
        )
    if not filled:
        return doc, filled_callers
    return _with_frames(doc, out), filled + filled_callers


def _fill_callers(
    doc: dict[str, Any], known: Symbols
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``doc`` with its bad jump's nameless caller named by the function of its return address
    (the physical frame of the pc's frames), as the classification names it with symbols."""
    names = {}
    for at, place in callers(doc):
        chain = known.pcs.get(place)
        if chain and isinstance(chain[-1].get("function"), str):
            names[at] = (place, chain[-1]["function"])
    if not names:
        return doc, []
    evidence = list(document.classification(doc)["evidence"])
    filled = []
    for at, (place, name) in names.items():
        facts = evidence[at]["facts"]
        evidence[at] = {
            **evidence[at],
            "facts": {**facts, "caller": {**facts["caller"], "function": name}},
        }
        filled.append(
            {
                "frame": "caller",
                "build_id": place[0],
                "module_offset": place[1],
                "by": "pc",
                "function": [name],
            }
        )
    classification = {**document.classification(doc), "evidence": evidence}
    return {**doc, "classification": classification}, filled


def _fill_frame(frame: dict[str, Any], place: Key, known: Symbols) -> list[dict[str, Any]] | None:
    chain = known.pcs.get(place)
    if chain:
        return [{**frame, **{k: entry.get(k) for k in PC_FIELDS}} for entry in chain]
    start = function_start(frame)
    name = None if start is None else known.functions.get((place[0], start))
    if name is None or start is None:
        return None
    return [{**frame, "function": name, "function_offset": place[1] - start}]


def _with_frames(doc: dict[str, Any], frames: list[dict[str, Any]]) -> dict[str, Any]:
    """A shallow copy of ``doc`` whose crashed thread has ``frames``."""
    at = document.crashed_index(doc)
    assert at is not None  # frames were filled, so there is a crashed thread
    threads = list(doc["threads"])
    threads[at] = {**threads[at], "frames": frames}
    return {**doc, "threads": threads}
