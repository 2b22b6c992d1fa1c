"""Stack scanning for a crashed thread whose unwinding stopped at its first frame (x86-64).

When the top frame is in code without unwind information — a library deleted or replaced since
the crash, a JIT — there is no rule to find the caller. As Breakpad does, look up the stack for
the first word that is a return address (it points just after a ``call`` in an executable
mapping) and unwind from there with CFI. Every frame found this way is a guess:
``trusted: false``, and the thread says so in ``frames_cut``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from coresnap.analysis.document import crashed_thread
from coresnap.errors import CoresnapError
from coresnap.snapshot.engines.corefile_engine import frame_record

SCAN_BYTES = 16 * 1024  # how far above the stack pointer to look, per scan
MAX_SCANS = 8  # scans per thread (each one resumes CFI unwinding where it lost the stack)
_WORD = 8


def scan_crashed_thread(core: Any, snap: dict[str, Any], max_frames: int) -> None:
    """Extend the crashed thread's frames by stack scanning when it has at most one frame."""
    thread = crashed_thread(snap)
    if thread is None or len(thread["frames"]) > 1 or core.ident.arch != "x86_64":
        return
    source = next((t for t in core.threads if t.tid == thread["tid"]), None)
    sp = source.registers.get("rsp") if source is not None else None
    if source is None or sp is None:
        return
    try:
        from coresnap.unwind.unwinder import unwind_thread
    except ImportError:
        return
    frames = thread["frames"]
    base = len(frames)
    scan_from, first = sp, None
    for _ in range(MAX_SCANS):
        found = _first_return_address(core, snap["memory_map"], scan_from)
        if found is None or len(frames) >= max_frames:
            break
        slot, return_address = found
        first = first or (slot, return_address)
        regs = {**source.registers, "rip": return_address, "rsp": slot + _WORD}
        start = dataclasses.replace(source, registers=regs, pc=return_address, sp=slot + _WORD)
        trace = unwind_thread(core, start, max_frames=max_frames - len(frames))
        frames.extend(frame_record(len(frames), f, trusted=False) for f in trace)
        if trace.stop_reason.startswith("outermost") or not trace:
            break
        # CFI lost the thread again (a register it needed was clobbered below): scan on from
        # above the last frame it did find.
        scan_from = max(slot + _WORD, max((f.cfa or 0) for f in trace))
    if first is not None:
        thread["frames_cut"] = (
            f"no unwind information at frame 0: frames from #{base} were found by scanning the "
            f"stack (first return address {first[1]:#x} at {first[0]:#x}) and are guesses"
        )


def _first_return_address(
    core: Any, memory_map: list[dict[str, Any]], sp: int
) -> tuple[int, int] | None:
    executable = [(m["start"], m["end"]) for m in memory_map if "x" in m["perms"] and m["path"]]
    try:
        stack = core.memory.read(sp, SCAN_BYTES)
    except CoresnapError:
        stack = b""
        for size in (4096, 1024, 256):
            try:
                stack = core.memory.read(sp, size)
                break
            except CoresnapError:
                continue
    for offset in range(0, len(stack) - _WORD + 1, _WORD):
        word = int.from_bytes(stack[offset : offset + _WORD], "little")
        if any(lo + 5 <= word < hi for lo, hi in executable) and _after_call(core, word):
            return sp + offset, word
    return None


def _after_call(core: Any, address: int) -> bool:
    """Whether the bytes before ``address`` end with a call: ``e8 rel32``, ``ff /2`` forms."""
    try:
        before = core.memory.read(address - 7, 7)
    except CoresnapError:
        return False
    if before[2] == 0xE8:  # call rel32
        return True
    if before[5] == 0xFF and 0xD0 <= before[6] <= 0xD7:  # call *%reg
        return True
    if before[4] == 0xFF and 0x50 <= before[5] <= 0x57:  # call *disp8(%reg)
        return True
    return before[1] == 0xFF and before[2] in (0x15, 0x90, 0x91, 0x92, 0x93, 0x95, 0x96, 0x97)
