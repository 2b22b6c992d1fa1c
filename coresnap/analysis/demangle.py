"""C++ (and legacy Rust) demangling through the C++ runtime's own ``abi::__cxa_demangle``;
Rust v0 through binutils' ``c++filt``.

libstdc++ is on every machine that runs C++ programs, so calling its demangler (ctypes) gives the
exact names ``c++filt`` prints without a subprocess or another dependency.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import re
import shutil
import subprocess

# Rust v0 symbols (`_RNv…`) carry crate disambiguators in brackets once demangled.
_RUST_DISAMBIGUATOR = re.compile(r"\[[0-9a-f]{1,16}\]")
# Legacy Rust symbols are Itanium-mangled with a trailing hash path element: `foo::bar::h0123…`.
_RUST_HASH = re.compile(r"::h[0-9a-f]{16}$")


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
    """The demangled form of ``name`` (a symbol or a type name); ``name`` itself if not mangled."""
    if not name or len(name) > 4096:
        return name
    if name.startswith("_R"):
        return _rust_v0(name)
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
    return _RUST_HASH.sub("", text)


def _rust_v0(name: str) -> str:
    """A Rust v0 symbol through binutils' ``c++filt`` (libstdc++'s demangler knows only the
    Itanium scheme), without crate disambiguators, as gdb prints it; ``name`` if unavailable."""
    tool = shutil.which("c++filt")
    if tool is None:
        return name
    try:
        out = subprocess.run([tool], input=name, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return name
    text = out.strip()
    return _RUST_DISAMBIGUATOR.sub("", text) if text and text != name else name
