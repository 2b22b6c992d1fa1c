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
    """A variable's value as gdb would print it, plus where pointers point and what was cut."""
    if v.get("optimized_out"):
        return "<optimized out>"
    value = v["value"]
    if value == MARK:  # the privacy policy removed it on the host (docs/privacy.md)
        text = MARK
    elif "string" in v or "points_to" in v:
        text = hexa(value)
        if v.get("string") is not None:
            text += " " + quoted(v["string"])
        elif v.get("points_to") and v["points_to"] != "NULL":
            text += f" <{v['points_to']}>"
        if v.get("deref") is not None:
            text += " → " + _compact(v["deref"])
    elif v.get("display"):
        text = f"{v['display']} ({value})"
    elif isinstance(value, str) and (v.get("type") or "").startswith("char"):
        text = quoted(value)
    else:
        text = _compact(value)
    if v.get("cut"):
        text += f"  [cut: {v['cut']}]"
    return text


def quoted(text: str) -> str:
    """A string as JSON, except a value the privacy policy removed: bare ``<scrubbed>``."""
    return MARK if text == MARK else json.dumps(text)


def _compact(value: Any) -> str:
    text = json.dumps(value, separators=(", ", ": "))
    return text if len(text) <= 160 else text[:157] + "…"
