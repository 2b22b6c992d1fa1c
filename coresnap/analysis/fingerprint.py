"""Fingerprint v1: a hash of the normalised top of the crashed thread's stack.

The steps are numbered in ``lists/README.md``; the noise and clone-suffix patterns are the data
files next to it, so a rule change is a one-line diff that ``coresnap reclassify --diff`` can
judge before it ships.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from coresnap.analysis.demangle import demangle

VERSION = 1
TOP_FRAMES = 3
_SALT = f"coresnap-fingerprint-v{VERSION}\n"
_VERSIONED = re.compile(r"@@?[A-Za-z0-9_.]+$")
_SO_VERSION = re.compile(r"\.so(\.[0-9]+)+$")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")  # what some unwinders print for a nameless pc
UNKNOWN = "?"


@functools.cache
def _patterns(name: str) -> list[re.Pattern[str]]:
    text = resources.files("coresnap.analysis").joinpath("lists", name).read_text()
    lines = [ln.strip() for ln in text.splitlines()]
    return [re.compile(ln) for ln in lines if ln and not ln.startswith("#")]


def _strip_balanced(name: str, open_: str, close: str) -> str:
    """Remove every ``open_ … close`` group (nested), e.g. template arguments."""
    out, depth = [], 0
    for ch in name:
        if ch == open_:
            depth += 1
        elif ch == close and depth:
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def normalize_function(name: str) -> tuple[str, list[str]]:
    """The step-2 normal form of a function name, and what was changed (for ``--explain``)."""
    changes = []
    base = _VERSIONED.sub("", name)
    if base.startswith(("_Z", "_R")):
        base = demangle(base)
        changes.append("demangled")
    base = base.replace("(anonymous namespace)", "{anonymous}")
    after = base.find("operator()") + len("operator()") if "operator()" in base else 0
    cut = base.find("(", after)
    if cut > 0:
        base = base[:cut]
        changes.append("parameters dropped")
    if "<" in base and not base.startswith("operator<"):
        base = _strip_balanced(base, "<", ">")
        changes.append("template arguments dropped")
    for pattern in _patterns("prefixes.txt"):
        m = pattern.match(base)
        if m and m.end() < len(base):
            base = base[m.end() :]
            changes.append(f"alias prefix {m.group(0)} dropped")
    if " " in base:  # a template function's demangled name starts with its return type
        at = base.find("operator")
        head, tail = (base[:at], base[at:]) if at >= 0 else (base, "")
        base = head.rsplit(" ", 1)[-1] + tail
        changes.append("return type dropped")
    stripped = True
    while stripped:
        stripped = False
        for pattern in _patterns("clone_suffixes.txt"):
            m = re.search(pattern.pattern + "$", base)
            if m and m.start() > 0:
                base, stripped = base[: m.start()], True
                changes.append(f"clone suffix {m.group(0)} dropped")
    return base.strip(), changes


def module_name(path: str) -> str:
    """A module's stable name: its base name without a shared-object version (libc.so.6 -> libc.so)."""
    return _SO_VERSION.sub(".so", os.path.basename(path))


def frame_name(frame: dict[str, Any]) -> str:
    """The normal function name of a frame, else ``module+offset``, else ``?``."""
    function = frame.get("function")
    if isinstance(function, str) and function and not _ADDRESS.fullmatch(function):
        return normalize_function(function)[0]
    module, offset = frame.get("module"), frame.get("module_offset")
    if isinstance(module, str) and module and isinstance(offset, int):
        return f"{module_name(module)}+{offset:#x}"
    return UNKNOWN


def frame_key(frame: dict[str, Any]) -> str:
    """Step 2 for one frame: ``module!function`` (the same name in two programs is two bugs)."""
    name, module = frame_name(frame), frame.get("module")
    if name == UNKNOWN or "+0x" in name or not isinstance(module, str) or not module:
        return name
    return f"{module_name(module)}!{name}"


def is_noise(name: str, kernel: bool = False) -> bool:
    """Whether a frame name (with or without its ``module!``) matches ``lists/noise.txt``
    (and, for a kernel snapshot, ``lists/kernel_noise.txt``)."""
    function = name.split("!", 1)[-1]
    lists = ("noise.txt", "kernel_noise.txt") if kernel else ("noise.txt",)
    return any(p.fullmatch(function) for listed in lists for p in _patterns(listed))


@dataclass
class Step:
    title: str
    frames: list[str]


def _crashed_frames(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    threads = [t for t in snapshot.get("threads") or [] if isinstance(t, dict)]
    tid = snapshot.get("crashed_thread")
    thread = next((t for t in threads if t.get("crashed") or t.get("tid") == tid), None)
    return [f for f in (thread or {}).get("frames") or [] if isinstance(f, dict)]


def _caller(snapshot: dict[str, Any]) -> dict[str, Any] | None:
    """The caller the classification recovered for a jump to a bad pc (return address at sp)."""
    classification = snapshot.get("classification") or {}
    for e in classification.get("evidence") or []:
        caller = (e.get("facts") or {}).get("caller")
        if e.get("label") in ("bad-jump", "exec-nonexec") and isinstance(caller, dict):
            return caller
    return None


def _known_prefix(names: list[str]) -> list[str]:
    """Step 3a: drop unknown frames; after the first one below the top, the unwinder was lost."""
    out = []
    for i, name in enumerate(names):
        if name == UNKNOWN:
            if i > 0:
                break
            continue
        out.append(name)
    return out


def explain(snapshot: dict[str, Any]) -> tuple[dict[str, Any], list[Step]]:
    """The fingerprint of ``snapshot`` and each step that led to it."""
    raw = _crashed_frames(snapshot)
    steps = [Step("1. crashed thread's frames", [str(f.get("function") or "?") for f in raw])]
    caller = _caller(snapshot)
    lost = bool(raw) and frame_name(raw[0]) == UNKNOWN
    if caller and lost and (len(raw) < 2 or frame_key(raw[1]) != frame_key(caller)):
        raw = [raw[0], caller, *raw[1:]]
        inserted = [frame_key(f) for f in raw]
        steps.append(Step("1b. caller of the bad jump (return address at sp) inserted", inserted))
    names = [frame_key(f) for f in raw]
    steps.append(Step("2. normalised (module!function)", names))
    kernel = isinstance(snapshot.get("kernel"), dict)
    names = _known_prefix([n for n in names if not is_noise(n, kernel)])
    lists = "lists/noise.txt" + (", lists/kernel_noise.txt" if kernel else "")
    steps.append(Step(f"3. noise and unknown frames dropped ({lists})", names))
    names = [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n]
    steps.append(Step("4. recursion collapsed", names))
    names = names[:TOP_FRAMES]
    if not names:
        signal = snapshot.get("signal") or {}
        names = ["<no frames>", str(signal.get("name") or "?")]
    steps.append(Step(f"5. top {TOP_FRAMES} kept", names))
    digest = hashlib.sha256((_SALT + "\n".join(names)).encode()).hexdigest()
    steps.append(Step("6. sha256", [digest]))
    return {"hash": digest, "version": VERSION, "frames": names}, steps


def fingerprint(snapshot: dict[str, Any]) -> dict[str, Any]:
    """``{"hash", "version", "frames"}`` for ``snapshot`` (plain data; no memory needed)."""
    return explain(snapshot)[0]
