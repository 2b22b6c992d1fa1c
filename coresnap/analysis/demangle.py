"""The one demangler: C++ and Rust symbols.

:func:`demangle_all` names frames: a batch of symbols through ``c++filt`` (binutils), spelled as
gdb spells them. :func:`demangle` is one symbol or type name for the analysis, through the C++
runtime's own ``abi::__cxa_demangle`` (libstdc++ is on every machine that runs C++ programs:
the exact names ``c++filt`` prints, without a subprocess), Rust v0 through ``c++filt``.

DWARF names drgn reports are unqualified (``explode``); gdb shows ``shapes::Widget::explode``.
The linkage name of a frame's symbol carries the namespaces and classes, so a demangled symbol
whose last component is the DWARF name replaces it. Without ``c++filt`` names stay as drgn gave.

Rust names are spelled as gdb spells them: c++filt keeps the crate disambiguators of v0 names
(``_R…`` → ``core[c1f1a4ba060b9bfa]::panicking::panic_bounds_check``) and the hash of legacy
ones (``_ZN…17h<16 hex digits>E`` → ``main::main::h8da7fa642d137fc6``); gdb shows neither.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import re
import shutil
import subprocess

# rustc's legacy mangling ends every path with a 17-character hash component (``17h`` + 16 hex
# digits, rustc_symbol_mangling/src/legacy.rs); the v0 demangler prints a crate's
# disambiguator in brackets after its name (rustc_demangle's ``{crate}[{hash}]``).
_LEGACY_RUST = re.compile(r"^_ZN.*17h[0-9a-f]{16}E$")
_LEGACY_HASH = re.compile(r"::h[0-9a-f]{16}$")
_CLONES = re.compile(r"(\s*\[clone [^\]]*\])+$")


def without_clones(name: str) -> str:
    """``f [clone .isra.0] [clone .cold]`` is ``f``: a name without its trailing clone marks."""
    return _CLONES.sub("", name)


_V0_DISAMBIGUATOR = re.compile(r"(?<=[A-Za-z0-9_])\[[0-9a-f]{1,16}\]")


def demangle_all(names: list[str]) -> dict[str, str]:
    """``{mangled: demangled}`` for the ``_Z`` (C++, legacy Rust) and ``_R`` (Rust v0) names
    in ``names`` ({} if c++filt is missing or fails)."""
    mangled = sorted({n for n in names if n.startswith(("_Z", "_R"))})
    out = _cxxfilt(mangled, timeout=20) if mangled else None
    if out is None:
        return {}
    return {m: _spelled(m, d) for m, d in zip(mangled, out, strict=True) if d != m}


def _cxxfilt(names: list[str], timeout: float) -> list[str] | None:
    """``c++filt``'s line for each of ``names``; None if it is missing or fails."""
    tool = shutil.which("c++filt")
    if tool is None:
        return None
    try:
        out = subprocess.run(
            [tool], input="\n".join(names), capture_output=True, text=True, timeout=timeout
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return None
    return out if len(out) == len(names) else None


@functools.cache
def _cxa_demangle() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    name = ctypes.util.find_library("stdc++") or "libstdc++.so.6"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    fn = lib.__cxa_demangle
    fn.restype = ctypes.c_void_p
    fn.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
    return fn


@functools.lru_cache(maxsize=4096)
def demangle(name: str) -> str:
    """The demangled form of ``name`` (a symbol or a type name), parameters kept, without
    Rust's hash and crate disambiguators; ``name`` itself if not mangled or no demangler."""
    if not name or len(name) > 4096:
        return name
    if name.startswith("_R"):
        out = _cxxfilt([name], timeout=10)
        text = out[0].strip() if out else ""
        return _V0_DISAMBIGUATOR.sub("", text) if text and text != name else name
    fn = _cxa_demangle()
    if fn is None:
        return name
    status = ctypes.c_int(0)
    ptr = fn(name.encode(), None, None, ctypes.byref(status))
    if status.value != 0 or not ptr:
        return name
    try:
        text = ctypes.string_at(ptr).decode(errors="replace")
    finally:
        ctypes.CDLL(None).free(ctypes.c_void_p(ptr))
    return _LEGACY_HASH.sub("", text)


def _spelled(mangled: str, demangled: str) -> str:
    if mangled.startswith("_R"):
        return _V0_DISAMBIGUATOR.sub("", demangled)
    if _LEGACY_RUST.match(mangled):
        return _LEGACY_HASH.sub("", demangled)
    return strip_signature(demangled)


def is_rust_symbol(name: str) -> bool:
    """A Rust mangled symbol (v0, or legacy with its hash)."""
    return name.startswith("_R") or _LEGACY_RUST.match(name) is not None


def strip_signature(demangled: str) -> str:
    """``int ns::f<int>(char*) const`` → ``ns::f<int>``: drop the parameters and return type."""
    text, clones = demangled.strip(), ""
    m = _CLONES.search(text)
    if m:  # `f(int) [clone .isra.0] [clone .cold]`: the clone marks follow the parameters
        text, clones = text[: m.start()], m.group(0)
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
            return text[i + 1 :] + clones
    return text + clones


def last_component(name: str) -> str:
    """The part of a qualified name after its last top-level ``::``."""
    depth = 0
    for i in range(len(name) - 1, 0, -1):
        ch = name[i]
        depth += {">": 1, ")": 1, "<": -1, "(": -1}.get(ch, 0)
        if depth == 0 and name[i - 1 : i + 1] == "::":
            return name[i + 1 :]
    return name
