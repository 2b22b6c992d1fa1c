"""One thread's frames from drgn's stack trace, one physical frame at a time (its inline
frames first), settled by :class:`~coresnap.snapshot.engines.drgn_names.FrameNamer`.

Where the walk ends, and why:

- the entry point (``_start``): like gdb with "backtrace past-entry" off;
- a zero return address, the outermost frame of Go's threads and goroutines and of any thread
  whose creator cleared it: gdb prints one ``0x0 in ?? ()`` there and stops; it is no frame,
  so the snapshot has none;
- a pc that is not code (in no executable mapping): garbage read off a broken stack or a
  stack switch (Go's ``mcall`` on the g0 stack). That frame is kept, untrusted; drgn would go
  on with frame-pointer guesses from stale registers, repeating frames it already gave.
  Except the first frame's: a call through a bad function pointer, whose caller is the
  return address the call left (at sp), as gdb finds it; its frames (inline ones too) come
  next, untrusted, then its callers unwound by CFI from there.

A signal trampoline drgn cannot unwind through (Go's: ordinary CFI) is continued from the
registers the kernel saved (:mod:`~coresnap.snapshot.engines.drgn_signal`), and Go's switch to
the system stack from the goroutine that made it (:mod:`~coresnap.snapshot.engines.drgn_goswitch`).
The frame that Go's ``runtime.sigpanic`` returns to is the faulting instruction itself:
its inline frames are looked up at its pc (a return address is looked up one byte before).
A caller found without CFI (after a pc in no module, or a frame with neither symbol nor FDE,
or by that search) is not trusted.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Any

import drgn

from coresnap.analysis.demangle import is_rust_symbol
from coresnap.snapshot.engines.drgn_goswitch import SWITCH, goroutine_trace
from coresnap.snapshot.engines.drgn_names import Group, linkage_marked
from coresnap.snapshot.engines.drgn_signal import (
    interrupted_trace,
    trace_from_registers,
    trampoline_kind,
)
from coresnap.snapshot.engines.tailcalls import tail_call_frames

if TYPE_CHECKING:
    from coresnap.snapshot.engines.drgn_frames import FrameWalker

# What Go's signal handler makes the faulting goroutine call (runtime/signal_amd64.go
# preparePanic pushes the faulting pc as its return address).
SIGPANIC = "runtime.sigpanic"
ENTRY_POINTS = frozenset({"_start", "__start", "___start"})
_ERRORS = (LookupError, ValueError, drgn.FaultError, drgn.BadDataError)


class CodeRanges:
    """The executable mappings of the process, to tell code from garbage ("???" perms: the
    core does not say, so they may hold code; with no mapping known, everything may)."""

    def __init__(self, mappings: list[dict[str, Any]]) -> None:
        perms = [(m["start"], m["end"], m.get("perms") or "???") for m in mappings]
        code = sorted((start, end) for start, end, p in perms if "x" in p or "?" in p)
        self._starts = [start for start, _ in code]
        self._ends = [end for _, end in code]

    def holds(self, pc: int) -> bool:
        if not self._starts:
            return True
        i = bisect.bisect_right(self._starts, pc) - 1
        return i >= 0 and pc < self._ends[i]


def walk_frames(
    walker: FrameWalker, record: dict[str, Any], trace: drgn.StackTrace, follow: int
) -> None:
    """Fill ``record["frames"]`` (and ``frames_cut`` when a bound or the stack stops it)."""
    frames: list[dict[str, Any]] = record["frames"]
    walk = list(trace)
    top = walk[0] if walk else None  # the first frame of the registers in force
    group: Group = []
    guessed = False  # the caller of the frame before was found without CFI
    i = 0
    while i < len(walk):
        frame = walk[i]
        if len(frames) + len(group) >= walker.bounds.max_frames:
            record["frames_cut"] = f"frames: {walker.bounds.max_frames} of {len(walk)}+"
            walker.cuts.append(f"thread {record['tid']}: {record['frames_cut']}")
            return
        out = walker.frame(len(frames), frame, follow)
        if out is None or (out["pc"] == 0 and not frame.is_inline and i > 0):
            return
        group.append((frame, out))
        i += 1
        if frame.is_inline:
            continue
        caller = walk[i] if i < len(walk) else None
        settled, guess, signal = _physical(walker, group, caller, i > 1)
        group = []
        garbage = i > 1 and not walker.code.holds(out["pc"])
        if garbage:  # no function is there: a data symbol's name would mislead
            settled = [_unnamed(out)]
        untrusted = guessed or garbage or (out["module"] is None and i > 1)
        for r in settled:
            r["index"], r["trusted"] = len(frames), not untrusted
            frames.append(r)
        guessed = guess
        if garbage or out["function"] in ENTRY_POINTS:
            return
        if i == 1 and not walker.code.holds(out["pc"]):
            called = _called_from(walker, frame, caller)
            if called:  # a call to a bad pc: gdb's caller, the return address at sp
                walk[i:] = called
                guessed = True
                continue
        if signal == "code":  # drgn walked on as if the kernel had called the handler
            resumed = interrupted_trace(walker.prog, frame)
            if resumed is None:
                record["frames_cut"] = "signal frame: the saved registers cannot be read"
                return
            walk[i:] = list(resumed)
            top = walk[i] if i < len(walk) else None
        elif out["function"] == SWITCH and top is not None:
            switch = walker.symbol(frame)
            found = goroutine_trace(walker.prog, top, switch) if switch is not None else None
            if found is not None:
                walk[i:] = list(found)
                top, guessed = walk[i] if i < len(walk) else None, True
        elif out["function"] == SIGPANIC and caller is not None:
            exact = _at_exact_pc(walker, caller)
            if exact:
                walk[i:] = exact
        elif caller is not None and signal is None:
            frames.extend(_tail_calls(walker, frame, caller, len(frames)))


def _at_exact_pc(walker: FrameWalker, faulted: drgn.StackFrame) -> list[drgn.StackFrame] | None:
    """The walk from the frame Go's signal handler made call ``runtime.sigpanic``: its pc is the
    faulting instruction, not a return address (the runtime's own traceback does not back it
    up either), so its inline frames are those at the pc itself: drgn, taking it for a return
    address, looks them up one byte earlier, in the code before (often the inline mark of the
    function the faulting one was inlined into)."""
    try:
        regs = dict(faulted.registers())
        regs["rip"] = faulted.pc
    except _ERRORS:
        return None
    trace = trace_from_registers(walker.prog, regs)
    walk = list(trace) if trace is not None else []
    return walk if walk and walk[0].pc == faulted.pc else None


def _called_from(
    walker: FrameWalker, top: drgn.StackFrame, caller: drgn.StackFrame | None
) -> list[drgn.StackFrame] | None:
    """The walk past a call to a bad pc, as gdb makes it: the caller is the return address the
    call left at sp (x86-64), its frames (inline ones too) looked up as a return address, then
    its callers unwound by CFI from the registers the call left (sp past the return address).
    None when drgn's next frame is that caller already, or the address is no code. With no
    CFI at a bad pc, drgn goes on from the frame pointer and skips the function that made the
    call (and the inline functions it was in: the bug's own code, most often)."""
    try:
        regs = dict(top.registers())
        sp = regs["rsp"]
        ra = walker.prog.read_u64(sp)
    except (*_ERRORS, KeyError):
        return None
    if not ra or not walker.code.holds(ra) or (caller is not None and caller.pc == ra):
        return None
    try:
        called = list(walker.prog.stack_trace_from_pcs([ra]))
    except _ERRORS:
        return None
    # Unwound at ra - 1, the call's last byte: the rules of the call site (a call that does
    # not return may be the function's last instruction, ra the next function's first).
    cont = trace_from_registers(walker.prog, {**regs, "rip": ra - 1, "rsp": sp + 8})
    rest = list(cont) if cont is not None else []
    physical = next((n for n, f in enumerate(rest) if not f.is_inline), None)
    return called + (rest[physical + 1 :] if physical is not None else [])


def _unnamed(record: dict[str, Any]) -> dict[str, Any]:
    record.update(function=None, function_offset=None, function_start=None, variables=[])
    record.update(file=None, line=None, column=None, inline=False)
    record.pop("signal_frame", None)
    return record


def _physical(
    walker: FrameWalker, group: Group, caller: drgn.StackFrame | None, below_top: bool
) -> tuple[list[dict[str, Any]], bool, str | None]:
    """One physical frame's records; whether its caller is a guess (it has no CFI, as far as
    we know: no module, or no symbol and no FDE); its signal trampoline kind."""
    frame, out = group[-1]
    module, _, _, start = walker.module_of(out["pc"])
    signal = trampoline_kind(walker.prog, frame, caller, walker.trampolines) if below_top else None
    if signal is not None:
        walker.namer.signal_frame(out, module, start)
        return [*(r for _, r in group[:-1]), out], False, signal
    settled = walker.namer.settle(group, module, start, walker.symbol(frame))
    guess = module is None or (settled[-1]["function_start"] is None)
    return settled, guess, None


def _tail_calls(
    walker: FrameWalker, callee: drgn.StackFrame, caller: drgn.StackFrame, index: int
) -> list[dict[str, Any]]:
    try:
        sym = walker.symbol(callee)
        return_address = caller.pc
    except _ERRORS:
        return []
    if sym is None or caller.interrupted:
        return []
    key = (sym.address, return_address)
    if key not in walker.tails:
        walker.tails[key] = tail_call_frames(walker.prog, sym.address, return_address)
    out = []
    for n, virtual in enumerate(walker.tails[key]):
        _, module, build_id, start = walker.module_of(virtual["pc"])
        out.append(
            {
                "index": index + n,
                **{k: v for k, v in virtual.items() if k != "function_start"},
                "module": module,
                "build_id": build_id,
                "module_offset": virtual["pc"] - start if module else None,
                "function_offset": None,
                "function_start": virtual["function_start"] - start if module else None,
                "trusted": True,
                "tail_call": True,
                "variables": [],
            }
        )
        name = out[-1]["function"]
        if name and (name.startswith("_Z") or is_rust_symbol(name)):  # named by its symbol
            walker.namer.linkage_names.append(name)
            out[-1]["function"] = linkage_marked(name, name)
    return out
