"""The server's fingerprint of a snapshot: what groups it, whatever the client computed.

A host running an older coresnap sends an older fingerprint (or none); the store groups every
object by *its own* version: ``coresnap.analysis.fingerprint.fingerprint()`` over the snapshot,
after learned symbols filled the crashed thread's nameless frames (``symbols.py``). The client's
fingerprint stays in the stored snapshot untouched; the object's group key, indexed fingerprint
and version are the server's. Ingest and ``coronerd regroup`` both call :func:`compute`, so an
object is keyed the same way whichever of them saw it last.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from coresnap.analysis import document
from coresnap.analysis.fingerprint import VERSION, fingerprint, normalize_function
from coresnap.store import grouping, symbols

KEY = re.compile(r"^[0-9A-Za-z]{1,128}$")
MAX_FRAMES = 8  # the fingerprint's frames kept as the group's description
MAX_ALIASES = 8  # aliases read from one fingerprint
# How the fingerprint spells a frame without a name: module+0xPC or module!0xSTART.
_NAMELESS = re.compile(r"[+!]0x[0-9a-fA-F]+$")
log = logging.getLogger("coronerd")


@dataclass(frozen=True)
class ServerPrint:
    """An object's grouping facts as the store computed them.

    ``version`` is None when the fingerprint could not be computed (a bug of the analysis on an
    odd snapshot: the object is grouped by its top frames' names, as before fingerprints).
    ``learned`` lists the frames learned symbols filled (``symbols.fill``); ``blamed`` guards
    aliases (``aliases.py``).
    """

    hash: str
    version: int | None
    frames: list[str]
    aliases: list[str] = field(default_factory=list)
    learned: list[dict[str, Any]] = field(default_factory=list)
    blamed: str | None = None  # the blamed function's normal name, when it has one
    weak: list[str] = field(default_factory=list)  # function keys (aliases.place_weak)
    site: str | None = None  # where in the blamed function: file:line, +0x.., None


def client_version(doc: dict[str, Any]) -> int | None:
    """The fingerprint version the client computed (None if it sent none)."""
    fp = doc.get("fingerprint")
    version = fp.get("version") if isinstance(fp, dict) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else None


def compute(doc: dict[str, Any], known: symbols.Symbols | None = None) -> ServerPrint:
    """The server's fingerprint of ``doc`` (a validated snapshot), learned symbols ``known``
    filling its nameless frames first. Never raises: a failing analysis is logged and the
    object grouped by its frames' names."""
    filled_doc, learned = symbols.fill(doc, known) if known else (doc, [])
    try:
        fp = fingerprint(filled_doc)
        key, version = fp["hash"], fp["version"]
        if not isinstance(key, str) or not KEY.match(key) or not isinstance(version, int):
            raise ValueError(f"fingerprint() returned {key!r} version {version!r}")
    except Exception:  # whatever the analysis raised on this input, the upload is stored
        log.warning(
            "fingerprint of %s failed; grouped by frame names", doc.get("uuid"), exc_info=True
        )
        frames = _frame_names(filled_doc)
        return ServerPrint(grouping.fallback_fingerprint(frames), None, frames, [], learned)
    frames = [str(f)[:256] for f in fp.get("frames") or []][:MAX_FRAMES]
    aliases = [a for a in fp.get("aliases") or [] if isinstance(a, str) and KEY.match(a)]
    weak = [a for a in fp.get("weak") or [] if isinstance(a, str) and KEY.match(a)]
    site = fp.get("site") if isinstance(fp.get("site"), str) else None
    return ServerPrint(
        key, version, frames, aliases[:MAX_ALIASES], learned, _blamed(fp), weak[:2], site
    )


def _blamed(fp: dict[str, Any]) -> str | None:
    """The normal name of the real function at the blamed pc: the blamed function, or the one
    an inline blamed frame sits in (a build without -g has no inline frames, and its address
    alias meets the -g build's only where the real function is the same)."""
    blame = fp.get("blame")
    name = (blame.get("container") or blame.get("function")) if isinstance(blame, dict) else None
    if not isinstance(name, str) or not name or _NAMELESS.search(name):
        return None
    # Normal form: -O2's set_width.constprop.0.isra.0 is -O2 -g's set_width.
    return normalize_function(name)[0][:512] or None


def _frame_names(doc: dict[str, Any]) -> list[str]:
    return [str(f.get("function") or "??")[:256] for f in document.crashed_frames(doc)[:MAX_FRAMES]]


def version() -> int:
    """The fingerprint version this coronerd computes."""
    return int(VERSION)
