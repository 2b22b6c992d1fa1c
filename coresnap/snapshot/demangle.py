"""Qualified C++ function names: demangle ELF symbols with ``c++filt`` (binutils), in one batch.

DWARF names drgn reports are unqualified (``explode``); gdb shows ``shapes::Widget::explode``.
The linkage name of a frame's symbol carries the namespaces and classes, so a demangled symbol
whose last component is the DWARF name replaces it. Without ``c++filt`` names stay as drgn gave.
"""

from __future__ import annotations

import shutil
import subprocess


def demangle_all(names: list[str]) -> dict[str, str]:
    """``{mangled: demangled}`` for the ``_Z`` names in ``names`` ({} if c++filt is missing)."""
    mangled = sorted({n for n in names if n.startswith("_Z")})
    tool = shutil.which("c++filt")
    if not mangled or tool is None:
        return {}
    try:
        out = subprocess.run(
            [tool], input="\n".join(mangled), capture_output=True, text=True, timeout=20
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return {}
    if len(out) != len(mangled):
        return {}
    return {m: strip_signature(d) for m, d in zip(mangled, out, strict=True) if d != m}


def strip_signature(demangled: str) -> str:
    """``int ns::f<int>(char*) const`` → ``ns::f<int>``: drop the parameters and return type."""
    text = demangled.strip()
    for suffix in (" const", " volatile", " &&", " &"):
        text = text.removesuffix(suffix)
    if text.endswith(")"):
        depth = 0
        for i in range(len(text) - 1, -1, -1):
            depth += {")": 1, "(": -1}.get(text[i], 0)
            if depth == 0:
                text = text[:i]
                break
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        ch = text[i]
        depth += {">": 1, ")": 1, "<": -1, "(": -1}.get(ch, 0)
        if ch == " " and depth == 0 and not text[:i].endswith("operator"):
            return text[i + 1 :]
    return text


def last_component(name: str) -> str:
    """The part of a qualified name after its last top-level ``::``."""
    depth = 0
    for i in range(len(name) - 1, 0, -1):
        ch = name[i]
        depth += {">": 1, ")": 1, "<": -1, "(": -1}.get(ch, 0)
        if depth == 0 and name[i - 1 : i + 1] == "::":
            return name[i + 1 :]
    return name
