"""Function names from DWARF, spelled the way gdb spells them.

C: the linkage name when it is an asm label (glibc's ``__GI___libc_read``), else
``DW_AT_name``. C++: ``DW_AT_name`` qualified by the enclosing namespaces and classes
(``app::Engine::step``, ``(anonymous namespace)::helper``), with the builtin type names in
template arguments in gdb's canonical form (``twice<long>``, not GCC's ``twice<long int>``).
"""

from __future__ import annotations

import re

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


def text(value: object) -> str:
    """A DWARF string attribute (bytes, or a pyelftools container with ``name``) as str."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    name = getattr(value, "name", value)
    return name.decode(errors="replace") if isinstance(name, bytes) else str(name)


def die_name(die: DIE) -> str | None:
    """The function's name, following ``DW_AT_abstract_origin`` / ``DW_AT_specification``."""
    for _ in range(MAX_HOPS):
        attrs = die.attributes
        linkage = attrs.get("DW_AT_linkage_name") or attrs.get("DW_AT_MIPS_linkage_name")
        if linkage is not None and not text(linkage.value).startswith("_Z"):
            return text(linkage.value)
        if "DW_AT_name" in attrs:
            return canonical(_qualifiers(die) + text(attrs["DW_AT_name"].value))
        for ref in ("DW_AT_abstract_origin", "DW_AT_specification"):
            if ref in attrs:
                die = die.get_DIE_from_attribute(ref)
                break
        else:
            return None
    return None


def _qualifiers(die: DIE) -> str:
    """``ns::Class::`` for the namespaces and classes around ``die`` (none in C)."""
    parts: list[str] = []
    parent = die.get_parent()
    for _ in range(MAX_HOPS):
        if parent is None or parent.tag not in _SCOPE_TAGS:
            break
        name = parent.attributes.get("DW_AT_name")
        if name is not None:
            parts.append(text(name.value))
        elif parent.tag == "DW_TAG_namespace":
            parts.append("(anonymous namespace)")
        parent = parent.get_parent()
    return "".join(p + "::" for p in reversed(parts))


def canonical(name: str) -> str:
    """Builtin type names inside template arguments, as gdb prints them."""
    if "<" not in name:
        return name
    for pattern, replacement in _CANONICAL:
        name = pattern.sub(replacement, name)
    return name
