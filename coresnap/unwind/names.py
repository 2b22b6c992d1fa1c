"""Function names from DWARF, spelled the way gdb spells them.

C: the linkage name when it is an asm label (glibc's ``__GI___libc_read``), else
``DW_AT_name``. C++ and Rust: ``DW_AT_name`` qualified by the enclosing namespaces and
classes (``app::Engine::step``, ``(anonymous namespace)::helper``, ``main::parse::header``),
with the builtin type names in template arguments in gdb's canonical form (``twice<long>``,
not GCC's ``twice<long int>``). gdb prefers a C++ function's demangled linkage name when the
DIE has one (``dwarf2_physname``): :func:`linkage_name` gives it, for the caller to demangle
in one batch.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from elftools.dwarf.die import DIE

_SCOPE_TAGS = {
    "DW_TAG_namespace",
    "DW_TAG_class_type",
    "DW_TAG_structure_type",
    "DW_TAG_union_type",
}
# GCC's spelling -> gdb's (cp_canonicalize_string); longest first.
_CANONICAL = [
    (re.compile(r"\blong long unsigned int\b"), "unsigned long long"),
    (re.compile(r"\blong unsigned int\b"), "unsigned long"),
    (re.compile(r"\bshort unsigned int\b"), "unsigned short"),
    (re.compile(r"\blong long int\b"), "long long"),
    (re.compile(r"\blong int\b"), "long"),
    (re.compile(r"\bshort int\b"), "short"),
]
MAX_HOPS = 8  # origin/specification chains and scope nesting are short; more is a cycle
# Mangled names (Itanium C++ and legacy Rust ``_Z``, Rust v0 ``_R``): not asm labels.
_MANGLED = ("_Z", "_R")
# DW_LANG_Rust (DWARF 5, table 7.17): gdb ignores linkage names in Rust units (rustc wrote
# invalid ones once, rust-lang/rust#32925) and names functions from the DIE tree.
DW_LANG_Rust = 0x1C
ParentOf = Callable[[DIE], "DIE | None"]


def text(value: object) -> str:
    """A DWARF string attribute (bytes, or a pyelftools container with ``name``) as str."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    name = getattr(value, "name", value)
    return name.decode(errors="replace") if isinstance(name, bytes) else str(name)


def die_name(die: DIE, parent_of: ParentOf | None = None) -> str | None:
    """The function's name, following ``DW_AT_abstract_origin`` / ``DW_AT_specification``.

    ``parent_of`` finds a DIE's parent faster than pyelftools can (a unit's scope index).
    """
    current: DIE | None = die
    for _ in range(MAX_HOPS):
        if current is None:
            return None
        attrs = current.attributes
        linkage = attrs.get("DW_AT_linkage_name") or attrs.get("DW_AT_MIPS_linkage_name")
        if linkage is not None and not text(linkage.value).startswith(_MANGLED):
            return text(linkage.value)
        if "DW_AT_name" in attrs:
            return canonical(_qualifiers(current, parent_of) + text(attrs["DW_AT_name"].value))
        current = _referenced(current)
    return None


def linkage_name(die: DIE) -> str | None:
    """The C++ mangled name of the function (``_Z...``), following the same references as
    :func:`die_name`; None in C, in Rust, and for C++ entities that have none (GCC writes
    none for functions of local types: lambdas and their ``std::function`` handlers)."""
    top = die.cu.get_top_DIE().attributes.get("DW_AT_language")
    if top is not None and top.value == DW_LANG_Rust:
        return None
    current: DIE | None = die
    for _ in range(MAX_HOPS):
        if current is None:
            return None
        attrs = current.attributes
        linkage = attrs.get("DW_AT_linkage_name") or attrs.get("DW_AT_MIPS_linkage_name")
        if linkage is not None:
            name = text(linkage.value)
            return name if name.startswith("_Z") else None
        current = _referenced(current)
    return None


def _referenced(die: DIE) -> DIE | None:
    for ref in ("DW_AT_abstract_origin", "DW_AT_specification"):
        if ref in die.attributes:
            return die.get_DIE_from_attribute(ref)
    return None


def _qualifiers(die: DIE, parent_of: ParentOf | None) -> str:
    """``ns::Class::`` for the namespaces and classes around ``die`` (none in C)."""
    parent_at = parent_of or DIE.get_parent
    parts: list[str] = []
    parent = parent_at(die)
    for _ in range(MAX_HOPS):
        if parent is None or parent.tag not in _SCOPE_TAGS:
            break
        name = parent.attributes.get("DW_AT_name")
        if name is not None:
            parts.append(text(name.value))
        elif parent.tag == "DW_TAG_namespace":
            parts.append("(anonymous namespace)")
        parent = parent_at(parent)
    return "".join(p + "::" for p in reversed(parts))


def canonical(name: str) -> str:
    """Builtin type names inside template arguments, as gdb prints them."""
    if "<" not in name:
        return name
    for pattern, replacement in _CANONICAL:
        name = pattern.sub(replacement, name)
    return name
