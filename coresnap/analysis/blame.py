"""The blamed frame of a crash: the first frame of the program's own code on the crashed thread.

Steps (numbered like ``lists/README.md``):

1. The crashed thread's frames, innermost first, inline frames included. When frame 0 is a jump
   to a bad pc, the caller the classification read from the return address at sp goes after it.
2. Each frame gets a role (``roles.py``): noise, runtime, library, nameless, own, unknown.
3. The blamed frame is the first *own* frame. An unknown frame below the top ends the search: past
   it the unwinder was guessing (a smashed return address). With no own frame, the first library
   frame is blamed, then the first runtime frame.
   Stack overflows blame the recursion: the own function repeated most often on the stack, since
   where the stack ran out depends on how deep it was when it did.
4. A generic helper (``lists/helpers.txt``: ``die``, ``xmalloc``, ``check…``) is not the bug:
   its callers are added until a frame that is not a helper (up to three; a helper's
   consecutive frames of the same name, e.g. an inline copy inside its own clone, count once).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any

from coresnap.analysis.document import crashed_frames
from coresnap.analysis.names import patterns
from coresnap.analysis.roles import FrameRole, Role, role

MAX_HELPERS = 3


@dataclass
class Blame:
    """Where a crash is blamed: ``frames[index]`` and the helper callers added after it."""

    frames: list[dict[str, Any]]  # the crashed thread's frames (with an inserted caller)
    roles: list[FrameRole]
    index: int | None  # the blamed frame, None when no frame could be blamed
    callers: list[int] = field(default_factory=list)  # frames added because of a helper
    why: str = ""

    @property
    def frame(self) -> dict[str, Any] | None:
        return None if self.index is None else self.frames[self.index]

    @property
    def role(self) -> Role | None:
        return None if self.index is None else self.roles[self.index].role

    @property
    def keyed(self) -> list[int]:
        """The frames the fingerprint names: the blamed one, then the helper callers."""
        return [] if self.index is None else [self.index, *self.callers]


# Labels whose evidence carries ``caller``: the return address at sp of a jump to a bad pc.
_CALLER_LABELS = ("bad-jump", "exec-nonexec", "security", "use-after-free")


def _caller(snapshot: dict[str, Any]) -> dict[str, Any] | None:
    """The caller the classification recovered for a jump to a bad pc (return address at sp)."""
    classification = snapshot.get("classification")
    if not isinstance(classification, dict):
        return None
    for e in classification.get("evidence") or []:
        facts = e.get("facts") if isinstance(e, dict) else None
        caller = facts.get("caller") if isinstance(facts, dict) else None
        named = isinstance(caller, dict) and (caller.get("function") or caller.get("module"))
        if named and isinstance(e, dict) and e.get("label") in _CALLER_LABELS:
            return caller
    return None


def frames_of(snapshot: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """Step 1: the crashed thread's frames, and whether a bad jump's caller was inserted."""
    raw = crashed_frames(snapshot)
    caller = _caller(snapshot)
    lost = bool(raw) and not raw[0].get("function") and not raw[0].get("module")
    if caller is None or not lost:
        return raw, False
    if len(raw) > 1 and (
        raw[1].get("module_offset") == caller.get("module_offset")
        or raw[1].get("pc") == _address(caller.get("return_address"))
    ):
        return raw, False  # the unwinder found the caller at sp itself (its frames are there)
    return [raw[0], caller, *raw[1:]], True


def _address(value: object) -> int | None:
    """An address as a fact spells it (``"0x55d0…"``) or as a number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value), 16) if isinstance(value, str) else None
    except ValueError:
        return None


def _first(roles: list[FrameRole], wanted: Role) -> int | None:
    for i, r in enumerate(roles):
        if r.role is Role.UNKNOWN and i > 0:
            return None  # past a lost frame the unwinder was guessing
        if r.role is wanted:
            return i
    return None


def _recursion(roles: list[FrameRole]) -> int | None:
    own = [r.name for r in roles if r.role is Role.OWN]
    if not own:
        return None
    name, count = collections.Counter(own).most_common(1)[0]
    if count < 2:
        return None
    return next(i for i, r in enumerate(roles) if r.role is Role.OWN and r.name == name)


def _nameless(roles: list[FrameRole], frames: list[dict[str, Any]]) -> list[FrameRole]:
    """Own frames without a name in a module whose other frames have names are not the
    program's functions (a trampoline, a return into data): they are skipped, not blamed. In a
    stripped module no frame has a name, and the module + offset names are kept."""
    named = {f.get("module") for f in frames if f.get("function")}
    out = []
    for r, f in zip(roles, frames, strict=True):
        if r.role is Role.OWN and not f.get("function") and f.get("module") in named:
            r = FrameRole(Role.NAMELESS, r.name, "no name in a module whose other frames have one")
        out.append(r)
    return out


def is_helper(name: str) -> str | None:
    """The ``lists/helpers.txt`` line that ``name``'s last component matches, or None."""
    last = name.rsplit("::", 1)[-1]
    if "::" not in name and "." in last and "!" not in last:
        last = last.rsplit(".", 1)[-1]  # Go: main.must, pkg.(*T).Check
    for pattern in patterns("helpers.txt"):
        if pattern.fullmatch(last):
            return pattern.pattern
    return None


def _add_callers(blame: Blame) -> None:
    i = blame.index
    while i is not None and len(blame.callers) < MAX_HELPERS:
        if not is_helper(blame.roles[i].name):
            return
        name = blame.roles[i].name
        nxt = next(
            (
                j
                for j in range(i + 1, len(blame.roles))
                if blame.roles[j].role is Role.OWN and blame.roles[j].name != name
            ),
            None,
        )
        if nxt is None:
            return
        blame.callers.append(nxt)
        i = nxt


def find_blame(
    snapshot: dict[str, Any], *, stack_overflow: bool = False, kernel: bool = False
) -> Blame:
    """The blamed frame of ``snapshot`` (steps 1-5 above)."""
    frames, _ = frames_of(snapshot)
    process = snapshot.get("process")
    exe = process.get("exe") if isinstance(process, dict) else None
    program = exe if isinstance(exe, str) and exe else None
    roles = _nameless([role(f, program, kernel) for f in frames], frames)
    blame = Blame(frames, roles, None)
    if stack_overflow:
        blame.index = _recursion(roles)
        blame.why = "stack overflow: the most repeated function of the program"
    for wanted in (Role.OWN, Role.LIBRARY, Role.RUNTIME):
        if blame.index is None:
            blame.index = _first(roles, wanted)
            blame.why = f"first {wanted.value} frame"
    if blame.role is not Role.OWN:
        _thrown_at(snapshot, blame)
    if blame.index is not None and blame.role is Role.OWN:
        _add_callers(blame)
    return blame


def _thrown_at(snapshot: dict[str, Any], blame: Blame) -> None:
    """An unhandled promise rejection aborts after its thrower left the stack: V8's message
    object still says where it was thrown (the classification's ``thrown_at``)."""
    classification = snapshot.get("classification")
    evidence = classification.get("evidence") if isinstance(classification, dict) else None
    for e in evidence or []:
        facts = e.get("facts") if isinstance(e, dict) else None
        site = facts.get("thrown_at") if isinstance(facts, dict) else None
        if e.get("label") != "js-uncaught-exception" or not isinstance(site, dict):
            continue
        frame = {"function": site.get("function") or "<anonymous>", "file": site.get("file"),
                 "line": site.get("line"), "language": "js", "inline": False}  # fmt: skip
        found = role(frame, None)
        if found.role is Role.OWN:
            blame.frames.append(frame)
            blame.roles.append(found)
            blame.index = len(blame.frames) - 1
            blame.why = "where V8 says the uncaught exception was thrown"
        return
