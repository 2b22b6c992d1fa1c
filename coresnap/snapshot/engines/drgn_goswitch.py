"""drgn's side of Go's stack switch (:mod:`coresnap.unwind.goswitch`): the goroutine that
called ``runtime.systemstack``, as a drgn stack trace from the registers it resumes with."""

from __future__ import annotations

import drgn

from coresnap.snapshot.engines.drgn_signal import trace_from_registers
from coresnap.unwind.goswitch import SWITCH, goroutine_resume

__all__ = ["SWITCH", "goroutine_trace"]


def goroutine_trace(
    prog: drgn.Program, top: drgn.StackFrame, switch: drgn.Symbol
) -> drgn.StackTrace | None:
    """The goroutine's stack from where it called ``runtime.systemstack`` (``switch``), given
    the first frame of the registers in force (``top``); None when it cannot be found."""
    if prog.platform is None or prog.platform.arch != drgn.Architecture.X86_64:
        return None
    try:
        bp = top.register("rbp")
    except (LookupError, ValueError):
        return None
    bounds = (switch.address, switch.address + switch.size)
    found = goroutine_resume(prog.read, bp, bounds, (drgn.FaultError, ValueError))
    if found is None:
        return None
    pc, sp, base = found
    return trace_from_registers(prog, {"rip": pc, "rsp": sp, "rbp": base})
