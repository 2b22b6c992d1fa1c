"""Where the object page opens: the crash's headline and the program's first own frame.

A deliberate death (an assertion, abort(), an uncaught exception: the "abort" family of
``analysis/lists/families.txt``) dies several frames deep in libc or libstdc++ (``raise``,
``abort``, ``__assert_fail``, ``std::terminate``), frames that say nothing about the bug. The
page leads with what the runtime said (the assertion's expression, the exception's type) and
folds the library frames above the frame the fingerprint blames, which for this family is the
first frame of the program's own code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from coresnap.analysis import document
from coresnap.analysis.fingerprint import family, site


@dataclass(frozen=True)
class CrashSite:
    """What the object page leads with: ``headline`` (None outside the abort family), the
    crashed ``thread``, the ``index`` of its first own frame (None when the blamed frame is not
    the program's own) and ``where`` it is (``give_up (cls_abort.c:7)``), and ``fold``: how
    many of the thread's frames above it to fold (0 outside the abort family)."""

    headline: str | None
    thread: dict[str, Any] | None
    index: int | None
    fold: int
    where: str | None

    def names(self, annotation: object) -> bool:
        """Whether ``annotation`` (one of the snapshot's) is about the first own frame."""
        return (
            self.index is not None
            and isinstance(annotation, dict)
            and annotation.get("frame") == self.index
            and annotation.get("thread") == (self.thread or {}).get("tid")
        )

    def annotated(self, snap: dict[str, Any]) -> bool:
        """Whether one of ``snap``'s annotations is about the first own frame (the page links
        that one to the frame rather than adding a line of its own)."""
        found = snap.get("annotations")
        return isinstance(found, list) and any(self.names(a) for a in found)

    @property
    def folded_modules(self) -> list[str]:
        """The file names of the folded frames' modules, once each: ``libc.so.6``."""
        names = (f.get("module") for f in document.frames(self.thread)[: self.fold])
        return list(dict.fromkeys(os.path.basename(m) for m in names if isinstance(m, str) and m))


def crash_site(snap: dict[str, Any] | None) -> CrashSite | None:
    """The crash site of ``snap`` (None without a snapshot); never raises on an odd document."""
    if not snap:
        return None
    thread = document.crashed_thread(snap)
    blame = document.blamed_frame(snap) or {}
    index = blame.get("frame") if blame.get("role") == "own" else None
    position = next(
        (i for i, f in enumerate(document.frames(thread)) if f.get("index") == index), None
    )
    if not isinstance(index, int) or position is None:
        index = None
    fam, label = family(snap)
    deliberate = fam == "abort"
    return CrashSite(
        headline=_headline(snap, label, blame) if deliberate else None,
        thread=thread,
        index=index,
        fold=position if deliberate and position else 0,
        where=_where(blame) if index is not None else None,
    )


def _headline(snap: dict[str, Any], label: str | None, blame: dict[str, Any]) -> str | None:
    """What the runtime said: the assertion, the exception's type (and what() when the
    snapshot has it), a message; for a bare abort(), the function that called it."""
    facts = _facts(snap, label)
    expression, message = _text(facts.get("expression")), _text(facts.get("message"))
    if label == "assert" and expression:
        return f"Assertion '{expression}' failed"
    if label == "cxx-uncaught-exception":
        what = _text(facts.get("what"))
        kind = _text(facts.get("type")) or "(type unknown)"
        return f"Uncaught exception {kind}" + (f": {what}" if what else "")
    if label == "js-uncaught-exception" and _text(facts.get("exception_type")):
        return f"{_text(facts.get('exception_type'))}" + (f": {message}" if message else "")
    if message:
        return message
    if label == "abort" and _text(blame.get("function")):
        return f"abort() called in {_where(blame)}"
    notes = [a for a in snap.get("annotations") or [] if isinstance(a, dict)]
    return next((str(a["text"]) for a in notes if _text(a.get("text"))), None)


def _facts(snap: dict[str, Any], label: str | None) -> dict[str, Any]:
    """The evidence facts of ``label``, or none."""
    for e in document.classification(snap).get("evidence") or []:
        if isinstance(e, dict) and e.get("label") == label and isinstance(e.get("facts"), dict):
            return dict(e["facts"])
    return {}


def _where(blame: dict[str, Any]) -> str:
    """``give_up (cls_abort.c:7)``: the blamed function and its place in its file."""
    at = site(blame)
    return f"{blame.get('function') or '??'}" + (f" ({at})" if at else "")


def _text(value: object) -> str | None:
    return value.strip()[:500] if isinstance(value, str) and value.strip() else None
