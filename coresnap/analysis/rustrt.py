"""A Rust panic's own record, read from the crashed thread's stack: the ``Location`` the panic
names (file:line:col) and the message the panic handler formatted.

std's panic handler (library/std/src/panicking.rs) passes ``&mut dyn PanicPayload`` down to
``rust_panic_with_hook``: a fat pointer (data, vtable) on the stack. The vtable's methods are
named after the payload type (``StaticStrPayload`` holds a ``&'static str``;
``FormatStringPayload`` holds the ``fmt::Arguments`` and, once the hook asked for the text,
``Option<String>`` with it), so the payload is found by the symbols its vtable points at, never
by guessing at text. A ``core::panic::Location`` is ``{ file: &str, line: u32, col: u32 }``
(library/core/src/panic/location.rs), a static the panicking call site passes by reference.
"""

from __future__ import annotations

import functools
import itertools
import re
from importlib import resources
from typing import Any

from coresnap.analysis.context import Context

STACK_SCAN = 64 * 1024  # bytes above sp searched (the panic path's frames)
MAX_TEXT = 4096
MAX_LINE = 10_000_000
VTABLE_METHODS = 4  # drop_in_place, size, align, then the trait's methods: look at a few
NEAR_PAYLOAD = 64  # bytes between the payload and the location spilled in the same frame


@functools.cache
def _payloads() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(kind, symbol pattern) of the payload types whose vtables give the message away."""
    text = resources.files("coresnap.analysis.runtimes").joinpath("rust_payloads.txt")
    lines = [ln.split() for ln in text.read_text().splitlines() if ln.strip() and ln[0] != "#"]
    return tuple((kind, re.compile(pattern)) for kind, pattern in lines)


def _stack_words(ctx: Context) -> list[tuple[int, int]]:
    sp = ctx.sp
    stack = ctx.mapping_at(sp) if sp is not None else None
    if sp is None or stack is None:
        return []
    data = ctx.read(sp, min(STACK_SCAN, stack.end - sp)) or b""
    return [(sp + i, int.from_bytes(data[i : i + 8], "little")) for i in range(0, len(data) - 7, 8)]


def _text(ctx: Context, pointer: int, length: int) -> str | None:
    if not 0 < length <= MAX_TEXT or pointer < 0x10000:
        return None
    data = ctx.read(pointer, length)
    try:
        text = data.decode() if data is not None else None
    except UnicodeDecodeError:
        return None
    if text is None or not all(c.isprintable() or c in "\n\t" for c in text):
        return None
    return text


def _module_data(ctx: Context, address: int) -> bool:
    """Whether ``address`` is in a file-backed, non-executable mapping (rodata, relro data)."""
    m = ctx.mapping_at(address)
    return m is not None and bool(m.path) and not m.executable


def locations(ctx: Context, limit: int = 16) -> list[dict[str, Any]]:
    """The ``Location``s words of the stack point at, innermost first."""
    out: list[dict[str, Any]] = []
    for where, value in _stack_words(ctx):
        if len(out) >= limit or not _module_data(ctx, value):
            continue
        raw = ctx.read(value, 24)
        if raw is None:
            continue
        pointer, length = int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:16], "little")
        line, col = int.from_bytes(raw[16:20], "little"), int.from_bytes(raw[20:24], "little")
        if not 0 < line < MAX_LINE or col > MAX_LINE or not _module_data(ctx, pointer):
            continue
        file = _text(ctx, pointer, length)
        if file and file.endswith(".rs"):
            out.append({"file": file, "line": line, "column": col, "found_at": where})
    return out


def _payload_kind(ctx: Context, vtable: int) -> str | None:
    for i in range(3, 3 + VTABLE_METHODS):
        method = ctx.word(vtable + 8 * i)
        symbol = ctx.symbol_at(method) if method else None
        for kind, pattern in _payloads():
            if symbol is not None and pattern.search(symbol[0]):
                return kind
    return None


def _string_in(ctx: Context, words: list[int]) -> str | None:
    """The text of a ``String`` (cap, ptr, len in some order: rustc may reorder fields)."""
    for start in range(len(words) - 2):
        for cap, ptr, length in itertools.permutations(words[start : start + 3]):
            if 0 < length <= cap <= 1 << 20:
                text = _text(ctx, ptr, length)
                if text is not None:
                    return text
    return None


def _payload_text(ctx: Context, kind: str, data: int) -> str | None:
    fields = [ctx.word(data + 8 * i) for i in range(4)]
    if kind in ("static", "any") and fields[0] and fields[1] is not None:
        text = _text(ctx, fields[0], fields[1])  # a &str: (pointer, length)
        if text is not None or kind == "static":
            return text
    return _string_in(ctx, [f for f in fields if f is not None])


def message(ctx: Context) -> dict[str, Any] | None:
    """The panic message from the payload the handler passed down (the innermost one)."""
    words = _stack_words(ctx)
    for (_, data), (where, vtable) in itertools.pairwise(words):
        if not _module_data(ctx, vtable) or data < 0x10000:
            continue
        kind = _payload_kind(ctx, vtable)
        text = _payload_text(ctx, kind, data) if kind else None
        if text is not None:
            return {"text": text, "payload": kind, "found_at": where}
    return None


def panic_record(ctx: Context) -> dict[str, Any]:
    """The message and the location of the panic. The location is the one stored next to the
    payload (``rust_panic_with_hook(payload, location, …)`` keeps both in one frame); without a
    payload, the innermost one on the stack."""
    found = message(ctx)
    candidates = locations(ctx)
    out: dict[str, Any] = {}
    if found is not None:
        out.update(message=found["text"], payload=found["payload"])
        near = [c for c in candidates if abs(c["found_at"] - found["found_at"]) <= NEAR_PAYLOAD]
        candidates = near or candidates
    if candidates:
        best = min(
            candidates, key=lambda c: abs(c["found_at"] - (found or candidates[0])["found_at"])
        )
        out["location"] = f"{best['file']}:{best['line']}:{best['column']}"
    return out
