"""Whose code a frame runs: the program's own, a library's, a language runtime's, or noise.

The fingerprint blames the first frame of the program's own code (``blame.py``). Everything
that decides a role is data in ``lists/`` (one regular expression a line, see its README):

- ``noise.txt``: the signal, abort and assertion path every crash of a kind goes through;
- ``runtime-*.txt``: a language runtime's machinery, whatever module it lives in (Go's
  ``runtime.*`` is linked into the program; so is libstdc++'s template code and, in a Python or
  Node.js binary, the interpreter itself): C/C++, Go, Rust, Python's C API, V8/Node.js;
- ``library_modules.txt``: shared objects that are libraries, by name or by path (a module other
  than the program itself in /usr/lib is a library; the program is own code wherever it lives);
- ``library_sources.txt``: source files that are libraries compiled into the program
  (``/usr/include/c++``, GOROOT, Rust's ``library/``, cargo's registry).
"""

from __future__ import annotations

import enum
import functools
import os
from dataclasses import dataclass
from typing import Any

from coresnap.analysis.names import module_name, normalize_function, patterns

RUNTIMES = ("c", "cxx", "go", "rust", "python", "v8")
UNKNOWN = "?"


class Role(enum.Enum):
    OWN = "own"
    LIBRARY = "library"
    RUNTIME = "runtime"
    NOISE = "noise"
    NAMELESS = "nameless"  # no name in a module whose other frames have names: not code we know
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class FrameRole:
    role: Role
    name: str  # the frame's normal name (``frame_name``)
    why: str  # which list line (or rule) decided, for ``--explain``


def _is_address(name: str) -> bool:
    return name.startswith("0x") and all(c in "0123456789abcdefABCDEFx" for c in name)


@functools.lru_cache(maxsize=8192)
def _normal(function: str) -> str:
    return normalize_function(function)[0]


def frame_name(frame: dict[str, Any]) -> str:
    """The normal function name of a frame; else ``module!0xSTART`` (function start, stripped
    builds), ``module+0xOFFSET`` (the pc); else ``?``."""
    function = frame.get("function")
    if isinstance(function, str) and function and not _is_address(function):
        return _normal(function)
    module, offset = frame.get("module"), frame.get("module_offset")
    if isinstance(module, str) and module:
        start = frame.get("function_start")
        if isinstance(start, int):
            return f"{module_name(module)}!{start:#x}"
        if isinstance(offset, int):
            return f"{module_name(module)}+{offset:#x}"
    return UNKNOWN


def frame_key(frame: dict[str, Any]) -> str:
    """``module!function``: the same function name in two programs is two bugs."""
    name, module = frame_name(frame), frame.get("module")
    if name == UNKNOWN or "+0x" in name or "!" in name or not isinstance(module, str) or not module:
        return name
    return f"{module_name(module)}!{name}"


def matching(name: str, *lists: str) -> str | None:
    """The first line of ``lists`` that fully matches ``name`` (its function part), or None."""
    function = name.split("!", 1)[-1] if "!0x" not in name else name
    for listed in lists:
        for pattern in patterns(listed):
            if pattern.fullmatch(function):
                return f"{listed}: {pattern.pattern}"
    return None


def is_noise(name: str, kernel: bool = False) -> bool:
    """Whether a frame name matches ``lists/noise.txt`` (and, for a kernel snapshot,
    ``lists/kernel_noise.txt``)."""
    lists = ("noise.txt", "kernel_noise.txt") if kernel else ("noise.txt",)
    return matching(name, *lists) is not None


def _library_module(path: str, program: str | None) -> str | None:
    if program and os.path.basename(path) == os.path.basename(program):
        return None  # the program is its own code, even in /usr/lib/postgresql/15/bin
    base = module_name(path)
    for pattern in patterns("library_modules.txt"):
        if pattern.search(base if not pattern.pattern.startswith("^/") else path):
            return f"library_modules.txt: {pattern.pattern}"
    return None


def library_source(file: object) -> str | None:
    """The library_sources.txt rule ``file`` matches, if any."""
    if not isinstance(file, str) or not file:
        return None
    for pattern in patterns("library_sources.txt"):
        if pattern.search(file):
            return f"library_sources.txt: {pattern.pattern}"
    return None


def role(frame: dict[str, Any], program: str | None, kernel: bool = False) -> FrameRole:
    """The role of ``frame`` in a process whose executable is ``program``."""
    name = frame_name(frame)
    if name == UNKNOWN:
        return FrameRole(Role.UNKNOWN, name, "no function name and no module")
    why = matching(name, *(("noise.txt", "kernel_noise.txt") if kernel else ("noise.txt",)))
    if why:
        return FrameRole(Role.NOISE, name, why)
    why = matching(name, *(f"runtime-{r}.txt" for r in RUNTIMES))
    if why:
        return FrameRole(Role.RUNTIME, name, why)
    if frame.get("language") == "js":
        # A JS frame runs in the engine's module (node, or libnode.so): its script says whose.
        why = library_source(frame.get("file"))
        if why:
            return FrameRole(Role.LIBRARY, name, why)
        return FrameRole(Role.OWN, name, "a JS frame of the program's own scripts")
    module = frame.get("module")
    why = _library_module(module, program) if isinstance(module, str) and module else None
    if why:
        return FrameRole(Role.LIBRARY, name, why)
    why = library_source(frame.get("file"))
    if why and not frame.get("inline") and _program_namespace(name):
        return FrameRole(Role.OWN, name, "its name is the program's (library code inlined)")
    if why:
        return FrameRole(Role.LIBRARY, name, why)
    return FrameRole(Role.OWN, name, "not in a library, runtime or noise list")


def _program_namespace(name: str) -> bool:
    """Whether ``name`` (normal form, ``module!`` removed) is qualified and its first component
    is not a library's (``library_namespaces.txt``)."""
    bare = name.split("!", 1)[-1]
    if "::" not in bare:
        return False
    first = bare.split("::", 1)[0].lstrip("<")
    return bool(first) and not any(p.search(first) for p in patterns("library_namespaces.txt"))
