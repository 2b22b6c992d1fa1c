"""Fingerprint v2: the crash site (blamed frame + where in it) and the kind of fault.

Two crashes share a fingerprint when the first frame of the program's own code is the same
function (``blame.py``), the crash happened at the same place in it (the source line; without a
line table, the offset of the pc in the function), the fault is of the same family
(``lists/families.txt``), and what the runtime said matches (the assertion's expression, the
exception's type). Callers count only for generic helpers (``lists/helpers.txt``). The steps are
numbered in ``lists/README.md``; ``coresnap fingerprint --explain`` prints each one.

Besides the primary ``hash`` the fingerprint lists ``aliases``: the same site spelled by machine
address (module + offset of the pc), so the store can join a stripped build or a build without
``-g`` to its twin whose frames have names (same code, other primary key).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from coresnap.analysis import document
from coresnap.analysis.blame import Blame, find_blame
from coresnap.analysis.names import module_name, normalize_function
from coresnap.analysis.roles import (
    UNKNOWN,
    Role,
    frame_key,
    frame_name,
    is_noise,
    library_source,
)

__all__ = [
    "UNKNOWN",
    "VERSION",
    "explain",
    "fingerprint",
    "frame_key",
    "frame_name",
    "is_noise",
    "module_name",
    "normalize_function",
]

VERSION = 2
_SALT = f"coresnap-fingerprint-v{VERSION}\n"
_ALIAS_SALT = f"coresnap-fingerprint-v{VERSION}-address\n"
_WEAK_SALT = f"coresnap-fingerprint-v{VERSION}-function\n"
KERNEL_TOP_FRAMES = 3
# Families and labels whose site says nothing: where a stack ran out, where a killed process
# happened to be, the epilogue where the stack protector noticed an overflow that happened
# anywhere in the function (and that clang's line table often leaves without a line).
_NO_SITE = {"stack-overflow", "killed", "hardware", "stack-smash"}
_SPACES = re.compile(r"\s+")


@dataclass
class Step:
    title: str
    frames: list[str]


@functools.cache
def _families() -> dict[str, str]:
    text = resources.files("coresnap.analysis").joinpath("lists", "families.txt").read_text()
    pairs = (ln.split() for ln in text.splitlines() if ln.strip() and not ln.startswith("#"))
    return {p[0]: p[1] for p in pairs if len(p) == 2}


def _classification(snapshot: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    evidence = document.classification(snapshot).get("evidence") or []
    return document.labels(snapshot), [e for e in evidence if isinstance(e, dict)]


def family(snapshot: dict[str, Any]) -> tuple[str, str | None]:
    """The class family of the snapshot's first fault label, and the label when it counts too."""
    labels, _ = _classification(snapshot)
    faults = [x for x in labels if not x.startswith("memory.") and x != "unknown"]
    if not faults:
        return f"signal {document.signal(snapshot).get('name') or '?'}", None
    fam = _families().get(faults[0], faults[0])
    return fam, faults[0] if fam == "abort" else None


def discriminator(snapshot: dict[str, Any]) -> str | None:
    """What the runtime said about the fault, when it tells bugs at one site apart: the
    assertion's expression, the uncaught exception's type."""
    _, evidence = _classification(snapshot)
    for e in evidence:
        found = e.get("facts")
        facts: dict[str, Any] = found if isinstance(found, dict) else {}
        label = e.get("label")
        value: object = None
        if label == "assert":
            value = facts.get("expression") or facts.get("message")
        elif label == "cxx-uncaught-exception":
            value = facts.get("type")
        elif label == "js-uncaught-exception":
            value = facts.get("exception_type")
        if isinstance(value, str) and value.strip():
            return _SPACES.sub(" ", value.strip())[:200]
    return None


def site(frame: dict[str, Any] | None) -> str | None:
    """Where in its function a frame is: ``file.c:42``; without a line, ``+0x1f`` (the pc's
    offset in the function); None when neither is known."""
    if frame is None:
        return None
    line, file = frame.get("line"), frame.get("file")
    # A real frame of the program's whose line is a library's (library code inlined at its pc
    # without an inline frame: Rust's unwrap at -O) says where in the library, not where in
    # the program: its offset in the function says more, and matches a build without -g.
    inlined = not frame.get("inline") and library_source(file) is not None
    if isinstance(line, int) and line > 0 and isinstance(file, str) and file and not inlined:
        return f"{os.path.basename(file)}:{line}"
    offset = frame.get("function_offset")
    if isinstance(offset, int) and not frame.get("inline"):
        return f"+{offset:#x}"
    return None


def _address(frame: dict[str, Any]) -> str | None:
    module, offset = frame.get("module"), frame.get("module_offset")
    if isinstance(module, str) and module and isinstance(offset, int):
        return f"{module_name(module)}+{offset:#x}"
    return None


def _digest(salt: str, parts: list[str]) -> str:
    return hashlib.sha256((salt + "\n".join(parts)).encode()).hexdigest()


def _blame_record(blame: Blame) -> dict[str, Any] | None:
    frame = blame.frame
    if frame is None or blame.index is None:
        return None
    module = frame.get("module")
    return {
        "function": frame.get("function") or frame_name(frame),
        "module": module if isinstance(module, str) else None,
        "build_id": frame.get("build_id"),
        "file": frame.get("file"),
        "line": frame.get("line"),
        "frame": blame.index,
        "function_start": frame.get("function_start"),
        "module_offset": frame.get("module_offset"),
        "role": blame.roles[blame.index].role.value,
        "container": _container_name(blame),
        "callers": [frame_key(blame.frames[i]) for i in blame.callers],
    }


def _container_name(blame: Blame) -> str | None:
    held = _container(blame)
    if held is None or held == blame.index:
        return None
    return str(blame.frames[held].get("function") or frame_name(blame.frames[held]))


def _kernel(snapshot: dict[str, Any], steps: list[Step]) -> dict[str, Any]:
    """A FreeBSD kernel panic: the top frames past the panic and trap path (no sites: textdumps
    have no lines), as in v1."""
    names = [frame_key(f) for f in document.crashed_frames(snapshot)]
    steps.append(Step("1. crashed thread's frames", names))
    names = [n for n in names if n != UNKNOWN and not is_noise(n, kernel=True)]
    names = [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n][:KERNEL_TOP_FRAMES]
    steps.append(Step("2. panic path dropped (lists/kernel_noise.txt), recursion collapsed", names))
    if not names:
        names = ["<no frames>", "kernel"]
    digest = _digest(_SALT, ["kernel", *names])
    steps.append(Step("3. sha256", [digest]))
    return {
        "hash": digest,
        "version": VERSION,
        "frames": names,
        "aliases": [],
        "weak": [],
        "blame": None,
    }


def explain(snapshot: dict[str, Any]) -> tuple[dict[str, Any], list[Step]]:
    """The fingerprint of ``snapshot`` and each step that led to it."""
    steps: list[Step] = []
    if isinstance(snapshot.get("kernel"), dict):
        return _kernel(snapshot, steps), steps
    fam, label = family(snapshot)
    blame = find_blame(snapshot, stack_overflow=fam == "stack-overflow")
    steps.append(
        Step("1. crashed thread's frames, names normalised", [frame_key(f) for f in blame.frames])
    )
    steps.append(Step("2. roles", [f"{r.role.value:<8} {r.name}  ({r.why})" for r in blame.roles]))
    keyed = blame.keyed
    names = [frame_key(blame.frames[i]) for i in keyed]
    steps.append(Step(f"3. blamed frame: {blame.why or 'none'}", names[:1]))
    steps.append(Step("4. generic helpers' callers (lists/helpers.txt)", names[1:]))
    with_site = fam not in _NO_SITE and label not in _NO_SITE and blame.role is Role.OWN
    sites = [site(blame.frames[i]) if with_site else None for i in keyed]
    said = discriminator(snapshot)
    if not names:
        process = snapshot.get("process")
        exe = process.get("exe") if isinstance(process, dict) else None
        names = ["<no frames>", module_name(exe) if isinstance(exe, str) and exe else "?"]
    rest = [f"class {fam}{'/' + label if label else ''}", *([f"said {said}"] if said else [])]
    if keyed:
        parts = [p for n, s in zip(names, sites, strict=True) for p in (n, f"site {s or '-'}")]
    else:
        parts = [*names, "site -"]
    parts += rest
    steps.append(Step("5. site of each, class family, what the runtime said", parts))
    digest = _digest(_SALT, parts)
    aliases = _aliases(blame, keyed, rest) if sites and all(sites) else []
    weak = _weak(blame, names, rest) if sites and all(sites) else []
    steps.append(Step("6. sha256, then the address aliases", [digest, *aliases]))
    steps.append(Step("7. function keys (join a lined group when it is the only one)", weak))
    fp = {
        "hash": digest,
        "version": VERSION,
        "frames": names,
        "site": sites[0] if sites else None,
        "family": fam,
        "aliases": aliases,
        "weak": weak,
        "blame": _blame_record(blame),
    }
    return fp, steps


def _container(blame: Blame) -> int | None:
    """The real (not inline) frame that holds the blamed frame: the blamed one itself, or the
    first frame outward of an inline chain (they share one pc)."""
    if blame.index is None:
        return None
    for i in range(blame.index, len(blame.frames)):
        if not blame.frames[i].get("inline"):
            return i
    return None


def _weak(blame: Blame, names: list[str], rest: list[str]) -> list[str]:
    """The function keys: the keyed frames' names and the class, without the site. A build
    without line tables (-O2 without -g) spells its site ``+0x..`` where its -g twin says
    ``file.c:42``, and without inline frames it blames the function the inline code sits in:
    so a crash with a line gives one key for its blamed function and one for the function
    that holds it, a crash without a line one for its blamed function. The store joins a
    crash without a line to the group with a line of the same key when that group is the only
    one (``store/aliases.py``)."""
    if not names:
        return []
    keys = [_digest(_WEAK_SALT, [*names, *rest])]
    held = _container(blame)
    if held is not None and held != blame.index:
        keys.append(_digest(_WEAK_SALT, [frame_key(blame.frames[held]), *names[1:], *rest]))
    return keys


def _aliases(blame: Blame, keyed: list[int], rest: list[str]) -> list[str]:
    """The address key: the blamed frame (and helper callers) by module + pc offset."""
    addresses = [_address(blame.frames[i]) for i in keyed]
    if not addresses or any(a is None for a in addresses):
        return []
    return [_digest(_ALIAS_SALT, [str(a) for a in addresses] + rest)]


def fingerprint(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The fingerprint of ``snapshot`` (plain data; no memory needed): ``hash``, ``version``,
    ``frames``, ``site``, ``family``, ``aliases``, ``blame``."""
    return explain(snapshot)[0]
