"""Reading a snapshot document: the one place that says which thread crashed, its frames, the
blamed frame, the labels, the signal.

A snapshot is JSON (``docs/snapshot-format.md``), so it travels as ``dict[str, Any]``; these
accessors give its parts one meaning everywhere (analysis, the store, the console, the CLI
views) and never raise on an odd or foreign document: a part that is missing or of the wrong
type reads as absent.
"""

from __future__ import annotations

from typing import Any


def threads(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The thread records of ``doc`` (those that are objects), in document order."""
    found = doc.get("threads")
    return [t for t in found if isinstance(t, dict)] if isinstance(found, list) else []


def crashed_index(doc: dict[str, Any]) -> int | None:
    """Where in ``doc["threads"]`` the crashed thread is: the one marked ``crashed``, else the
    one whose tid is ``crashed_thread`` (a tid of 0 is a tid); None when no thread is."""
    found = doc.get("threads")
    if not isinstance(found, list):
        return None
    for i, t in enumerate(found):
        if isinstance(t, dict) and t.get("crashed") is True:
            return i
    tid = doc.get("crashed_thread")
    for i, t in enumerate(found):
        if isinstance(t, dict) and tid is not None and t.get("tid") == tid:
            return i
    return None


def crashed_thread(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The crashed thread's record (see :func:`crashed_index`), or None."""
    at = crashed_index(doc)
    return None if at is None else doc["threads"][at]


def is_crashed(doc: dict[str, Any], thread: dict[str, Any]) -> bool:
    """Whether ``thread`` (a record of ``doc``) is its crashed thread."""
    return crashed_thread(doc) is thread


def frames(thread: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The frame records of ``thread`` (those that are objects), innermost first."""
    found = thread.get("frames") if isinstance(thread, dict) else None
    return [f for f in found if isinstance(f, dict)] if isinstance(found, list) else []


def crashed_frames(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The crashed thread's frames, innermost first (empty without a crashed thread)."""
    return frames(crashed_thread(doc))


def blamed_frame(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The frame the fingerprint blames (``fingerprint.blame``), as the analysis recorded it."""
    fp = doc.get("fingerprint")
    blame = fp.get("blame") if isinstance(fp, dict) else None
    return blame if isinstance(blame, dict) else None


def classification(doc: dict[str, Any]) -> dict[str, Any]:
    """The ``classification`` section, or an empty one."""
    found = doc.get("classification")
    return found if isinstance(found, dict) else {}


def labels(doc: dict[str, Any]) -> list[str]:
    """The classification's labels (the strings among them), most specific first."""
    return [x for x in classification(doc).get("labels") or [] if isinstance(x, str)]


def signal(doc: dict[str, Any]) -> dict[str, Any]:
    """The ``signal`` section, or an empty one."""
    found = doc.get("signal")
    return found if isinstance(found, dict) else {}
