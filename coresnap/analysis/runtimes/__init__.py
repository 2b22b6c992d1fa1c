"""Language runtimes' crash paths as data: which runtime function on the crashed thread says what
kind of crash a Go or Rust program had (``go.txt``, ``rust.txt``; README.md gives the steps).

Frame names arrive raw (``_RNvNtCs…_4core9panicking18panic_bounds_check``, legacy
``_ZN…17h<hash>E``, ``main::main::h<hash>``) or demangled by the snapshot engine or gdb
(``core::panicking::panic_bounds_check``, ``core::panicking::panic_display<&str>``).
:func:`runtime_name` brings all of them to one plain path, so the lists are written once.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

_RUST_HASH = re.compile(r"::h[0-9a-f]{16}$")
_DISAMBIGUATOR = re.compile(r"\[[0-9a-f]{1,16}\]")
_LEGACY = re.compile(r"_ZN((?:\d+[^\d]\S*?)+)E$")
_B62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
MAX_DEPTH = 32  # nested paths and back references of one v0 symbol


@dataclass(frozen=True)
class Rule:
    """One line of a runtime list: the label a matching frame decides."""

    label: str
    pattern: re.Pattern[str]


@functools.cache
def rules(runtime: str) -> tuple[Rule, ...]:
    """The rules of ``<runtime>.txt`` in file order (the first that matches decides).

    Raises FileNotFoundError for a runtime without a list.
    """
    text = resources.files(__package__).joinpath(f"{runtime}.txt").read_text()
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            label, pattern = line.split(None, 1)
            out.append(Rule(label, re.compile(pattern)))
    return tuple(out)


class _V0:
    """Just enough of the Rust v0 mangling (rustc-dev-guide, "v0 Symbol Format") to name a
    function's path: crate roots, nested paths, closures, generic paths (arguments dropped) and
    back references. Anything else raises ValueError and the raw name is kept."""

    def __init__(self, symbol: str) -> None:
        self.s, self.i = symbol, 2  # after "_R"

    def _peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def _take(self) -> str:
        c = self._peek()
        if not c:
            raise ValueError("truncated")
        self.i += 1
        return c

    def _base62(self) -> int:
        """``_`` is 0; digits then ``_`` are their value plus one."""
        if self._peek() == "_":
            self.i += 1
            return 0
        value = 0
        while (c := self._take()) != "_":
            value = value * 62 + _B62.index(c)
        return value + 1

    def _ident(self) -> tuple[str, int]:
        disambiguator = 0
        if self._peek() == "s":
            self.i += 1
            disambiguator = self._base62() + 1  # "s_" is 1: an absent one is 0
        if self._peek() == "u":
            raise ValueError("punycode")
        digits = re.match(r"\d+", self.s[self.i :])
        if digits is None:
            raise ValueError("identifier")
        self.i += len(digits.group())
        if self._peek() == "_":
            self.i += 1
        n = int(digits.group())
        name = self.s[self.i : self.i + n]
        self.i += n
        return name, disambiguator

    def path(self, depth: int = 0) -> str:
        if depth > MAX_DEPTH:
            raise ValueError("too deep")
        tag = self._take()
        if tag == "C":
            return self._ident()[0]
        if tag == "N":
            namespace = self._take()
            parent = self.path(depth + 1)
            name, disambiguator = self._ident()
            if namespace.isupper():  # closures (C), shims (S): {closure#N}
                kind = "closure" if namespace == "C" else namespace.lower()
                return f"{parent}::{{{kind}#{disambiguator}}}"
            return f"{parent}::{name}" if name else parent
        if tag == "I":
            return self.path(depth + 1)  # the generic arguments that follow are dropped
        if tag == "B":  # a back reference: a position counted from after "_R"
            target = self._base62() + 2
            back, self.i = self.i, target
            try:
                return self.path(depth + 1)
            finally:
                self.i = back
        raise ValueError(f"path tag {tag!r}")


def _legacy(symbol: str) -> str | None:
    """``_ZN3std9panicking11begin_panic17h0123456789abcdefE`` → ``std::panicking::begin_panic``."""
    match = _LEGACY.match(symbol)
    if not match:
        return None
    body, parts = match.group(1), []
    while body:
        digits = re.match(r"\d+", body)
        if digits is None:
            return None
        n, body = int(digits.group()), body[len(digits.group()) :]
        parts.append(body[:n])
        body = body[n:]
    if parts and re.fullmatch(r"h[0-9a-f]{16}", parts[-1]):
        parts.pop()
    return "::".join(parts).replace("$LT$", "<").replace("$GT$", ">").replace("..", "::")


def _strip_generics(name: str) -> str:
    """Drop template/generic argument lists (balanced ``<…>``) after the path's first
    character: ``core::panicking::panic_display<&str>`` → ``core::panicking::panic_display``."""
    out, depth = [], 0
    for i, c in enumerate(name):
        if c == "<" and i > 0:
            depth += 1
        elif c == ">" and depth:
            depth -= 1
        elif not depth:
            out.append(c)
    return "".join(out)


@functools.lru_cache(maxsize=8192)
def runtime_name(name: str) -> str:
    """``name`` as a plain path for the runtime lists: demangled when mangled (Rust v0, legacy
    Rust), without hashes, crate disambiguators or generic arguments."""
    if name.startswith("_R"):
        try:
            name = _V0(name).path()
        except (ValueError, IndexError):
            return name
    elif name.startswith("_ZN"):
        name = _legacy(name) or name
    name = _DISAMBIGUATOR.sub("", _RUST_HASH.sub("", name))
    return _strip_generics(name).replace("::::", "::").removesuffix("::")


@dataclass(frozen=True)
class Match:
    """The list line that decided, and the frame it matched."""

    runtime: str
    label: str
    frame: int  # index in the crashed thread's frames
    function: str  # the frame's name as :func:`runtime_name` wrote it


def decide(runtime: str, names: list[str]) -> Match | None:
    """The first rule of ``runtime``'s list (in file order) that fully matches one of
    ``names`` (innermost frame first), or None."""
    plain = [runtime_name(n) for n in names]
    for rule in rules(runtime):
        for i, name in enumerate(plain):
            if rule.pattern.fullmatch(name):
                return Match(runtime, rule.label, i, name)
    return None
