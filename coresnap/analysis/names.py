"""Function names in their normal form, the same for every build, host and unwinder.

The fingerprint compares functions by name: ``std::vector<int>::at(unsigned long) const`` from a
demangled symbol, ``std::vector<int, std::allocator<int> >::at`` from DWARF and ``_ZNKSt6vectorIiSaIiEE2atEm``
from a stripped table are one function. ``normalize_function`` removes what varies between builds
(parameters, template arguments, return types, compiler clone suffixes, CPU-specific variants of
glibc's string functions, Rust's hashes and crate disambiguators) and keeps what names the code
(namespaces, classes, Go packages and receivers, lambdas and closures, operators). Each change is
listed so that ``coresnap fingerprint --explain`` can show why two names met.
"""

from __future__ import annotations

import functools
import os
import re
from importlib import resources

from coresnap.analysis.demangle import demangle

_VERSIONED = re.compile(r"@@?[A-Za-z0-9_.]+$")
_SO_VERSION = re.compile(r"\.so(\.[0-9]+)+$")
_RUST_HASH = re.compile(r"::h[0-9a-f]{16}$")
_RUST_DISAMBIGUATOR = re.compile(r"\[[0-9a-f]{1,16}\]")
_ABI_TAG = re.compile(r"\[abi:[A-Za-z0-9_]+\]")
_CLONE = re.compile(r"\s*\[clone [^\]]*\]")
# Lambdas and closures: GCC's demangler writes {lambda(int)#2}, gdb <lambda(int)>, legacy Rust
# {{closure}}, v0 {closure#0}. One spelling, the ordinal kept where it is known.
_LAMBDA = re.compile(r"\{lambda\([^{}]*\)#(\d+)\}|<lambda\([^<>]*\)>|<lambda>")
_CLOSURE = re.compile(r"\{\{closure\}\}|\{closure#\d+\}")
# Operators whose spelling holds brackets the template/parameter strippers must leave alone.
_OPERATOR = re.compile(
    r"operator(\(\)|\[\]|<<=|>>=|<=>|<<|>>|<=|>=|->\*|->|<|>|\s+new\[\]|\s+delete\[\]|\s+[A-Za-z_][\w:]*\**&*)"
    # Go method receivers: main.(*Cache).evict keeps its parentheses.
    r"|(?<=\.)\(\*?[\w.]+\)(?=\.)"
)


@functools.cache
def patterns(name: str) -> list[re.Pattern[str]]:
    """The regular expressions of ``lists/<name>``: one a line, ``#`` comments and blanks skipped."""
    text = resources.files("coresnap.analysis").joinpath("lists", name).read_text()
    lines = [ln.strip() for ln in text.splitlines()]
    return [re.compile(ln) for ln in lines if ln and not ln.startswith("#")]


def module_name(path: str) -> str:
    """A module's stable name: its base name without a shared-object version (libc.so.6 -> libc.so)."""
    return _SO_VERSION.sub(".so", os.path.basename(path))


def _protect_operators(name: str) -> tuple[str, list[str]]:
    """Replace operator spellings by placeholders (``\\x01N\\x01``) so brackets in them survive."""
    found: list[str] = []

    def keep(m: re.Match[str]) -> str:
        found.append(re.sub(r"\s+", " ", m.group(0)))
        return f"\x01{len(found) - 1}\x01"

    return _OPERATOR.sub(keep, name), found


def _restore_operators(name: str, found: list[str]) -> str:
    return re.sub("\x01(\\d+)\x01", lambda m: found[int(m.group(1))], name)


def _strip_groups(name: str, open_: str, close: str) -> str:
    """Remove every balanced ``open_ … close`` group, nested ones included."""
    out, depth = [], 0
    for ch in name:
        if ch == open_:
            depth += 1
        elif ch == close and depth:
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def _rust_qualified_self(name: str) -> str:
    """``<app::Cache as core::fmt::Debug>::fmt`` -> ``app::Cache::fmt`` (the type, not the trait)."""
    m = re.match(r"^<([^<>]+?)(?: as [^<>]+)?>::(.+)$", name)
    return f"{m.group(1)}::{m.group(2)}" if m else name


def _drop_return_type(name: str) -> str:
    """``int ns::f`` -> ``ns::f``: a demangled template function starts with its return type."""
    depth = 0
    for i in range(len(name) - 1, -1, -1):
        ch = name[i]
        depth += {">": 1, ")": 1, "<": -1, "(": -1}.get(ch, 0)
        if ch == " " and depth == 0:
            return name[i + 1 :]
    return name


def _variants(name: str) -> tuple[str, str | None]:
    """glibc's CPU-specific implementations (``__strlen_evex``) -> the function (``strlen``)."""
    for pattern in patterns("variants.txt"):
        m = pattern.fullmatch(name)
        if m:
            return m.group(1), m.group(0)
    return name, None


def normalize_function(name: str) -> tuple[str, list[str]]:
    """The normal form of a function name, and what was changed (for ``--explain``)."""
    changes: list[str] = []
    if name.startswith("<") and name.endswith(">") and " " in name:
        return name, changes  # gdb's pseudo-frames: <signal handler called>
    base = _VERSIONED.sub("", name.strip())
    if base.startswith(("_Z", "_R")):
        demangled = demangle(base)
        if demangled != base:
            base = demangled
            changes.append("demangled")
    for regex, what in ((_CLONE, "clone suffix"), (_ABI_TAG, "ABI tag")):
        if regex.search(base):
            base = regex.sub("", base)
            changes.append(f"{what} dropped")
    if _RUST_HASH.search(base) or _RUST_DISAMBIGUATOR.search(base):
        base = _RUST_DISAMBIGUATOR.sub("", _RUST_HASH.sub("", base))
        changes.append("Rust hash dropped")
    base = base.replace("(anonymous namespace)", "{anonymous}")
    base = _CLOSURE.sub("{closure}", _LAMBDA.sub("{lambda}", base))
    base = _rust_qualified_self(base)
    base, operators = _protect_operators(base)
    for suffix in (" const", " volatile", " &&", " &"):
        base = base.removesuffix(suffix)
    if "(" in base:
        base = _strip_groups(base, "(", ")")
        changes.append("parameters dropped")
    if "<" in base:
        base = _strip_groups(base, "<", ">")
        changes.append("template arguments dropped")
    if "[" in base and not base.startswith("["):  # Go generics: main.Map[go.shape.int_0]
        base = _strip_groups(base, "[", "]")
        changes.append("type parameters dropped")
    if " " in base.strip():
        base = _drop_return_type(base.strip())
        changes.append("return type dropped")
    base = _restore_operators(base, operators).strip().removesuffix("::")
    for pattern in patterns("prefixes.txt"):
        m = pattern.match(base)
        if m and m.end() < len(base):
            base = base[m.end() :]
            changes.append(f"alias prefix {m.group(0)} dropped")
    base = _drop_clone_suffixes(base, changes)
    base, variant = _variants(base)
    if variant:
        changes.append(f"CPU variant {variant} -> {base}")
    return base, changes


def _drop_clone_suffixes(base: str, changes: list[str]) -> str:
    stripped = True
    while stripped:
        stripped = False
        for pattern in patterns("clone_suffixes.txt"):
            m = re.search(pattern.pattern + "$", base)
            if m and m.start() > 0:
                base, stripped = base[: m.start()], True
                changes.append(f"clone suffix {m.group(0)} dropped")
    return base
