"""One-line text for frames and variable values in the terminal view."""

from __future__ import annotations

import json
from typing import Any

from coresnap.capture.scrub import MARK


def hexa(value: Any) -> str:
    return f"{value:#x}" if isinstance(value, int) else str(value)


def frame_line(f: dict[str, Any]) -> str:
    """``#3  0x55…  main (inline) at file.c:56:5  [module]`` (gdb's order of things)."""
    name = f["function"] or "??"
    where = ""
    if f.get("file"):
        col = f":{f['column']}" if f.get("column") else ""
        where = f" at {f['file']}:{f.get('line') or '?'}{col}"
    elif f.get("module"):
        off = f"+{f['module_offset']:#x}" if f.get("module_offset") is not None else ""
        where = f" in {f['module']}{off}"
    pc = "                  " if f["inline"] else f"{f['pc']:#018x}"
    inline = " [inlined]" if f["inline"] else ""
    guess = " (guess)" if not f["trusted"] else ""
    return f"#{f['index']:<3} {pc}  {name}{inline}{where}{guess}"


def render_value(v: dict[str, Any]) -> str:
    """A variable's value as gdb would print it, plus where pointers point and what was cut
    (``char *`` members with the strings they point to: ``"name": 0x55… "alice"``)."""
    if v.get("optimized_out"):
        return "<optimized out>"
    value = v["value"]
    strings = v.get("strings") if isinstance(v.get("strings"), dict) else {}
    if value == MARK:  # the privacy policy removed it on the host (docs/privacy.md)
        text = MARK
    elif "string" in v or "points_to" in v:
        text = hexa(value)
        if v.get("string") is not None:
            text += " " + quoted(v["string"])
        elif v.get("points_to") and v["points_to"] != "NULL":
            text += f" <{v['points_to']}>"
        if v.get("deref") is not None:
            text += " → " + _compact(v["deref"], strings, "->")
    elif v.get("display"):
        text = f"{v['display']} ({value})"
    elif isinstance(value, str) and (v.get("type") or "").startswith("char"):
        text = quoted(value)
    else:
        text = _compact(value, strings, "")
    if v.get("cut"):
        text += f"  [cut: {v['cut']}]"
    return text


# Escapes of the characters a terminal would act on (C's spelling); a backslash is left as it
# is: the snapshot already spells the bytes it could not decode as \xNN, once.
_ESCAPES = {'"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def quoted(text: str) -> str:
    """A string in double quotes, escaped once (C's ``\\n``, ``\\"``, ``\\xNN`` for other control
    characters; other text as it is, accents included); a value the privacy policy removed:
    bare ``<scrubbed>``."""
    if text == MARK:
        return MARK
    out = (_ESCAPES.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x20 or ord(c) == 0x7F else c)
           for c in text)  # fmt: skip
    return '"' + "".join(out) + '"'


def _compact(value: Any, strings: dict[str, str] | None = None, path: str = "") -> str:
    text = _literal(value, strings or {}, path)
    return text if len(text) <= 160 else text[:157] + "…"


def _literal(value: Any, strings: dict[str, str], path: str) -> str:
    """``value`` as JSON would spell it, but strings quoted as the terminal shows them and the
    ``char *`` members at a path of ``strings`` followed by their string."""
    if isinstance(value, str):
        return quoted(value)
    if isinstance(value, dict):
        members = (f"{quoted(str(k))}: {_literal(v, strings, _join(path, str(k)))}"
                   for k, v in value.items())  # fmt: skip
        return "{" + ", ".join(members) + "}"
    if isinstance(value, list):
        return (
            "[" + ", ".join(_literal(v, strings, f"{path}[{i}]") for i, v in enumerate(value)) + "]"
        )
    if isinstance(value, int) and not isinstance(value, bool) and path in strings:
        return f"{value:#x} {quoted(strings[path])}"
    return json.dumps(value)


def _join(path: str, key: str) -> str:
    return f"{path}{key}" if path.endswith("->") else f"{path}.{key}"
