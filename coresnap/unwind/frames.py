"""What the unwinder returns: frames, and the list of them that says why it stopped."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from coresnap.corefile.model import ElfIdent, Module

How = Literal["cfi", "fp", "signal", "initial"]


@dataclass
class UnwoundFrame:
    """One frame, innermost first. Inlined calls are frames of their own (``inline=True``)
    sharing the pc, cfa and registers of the physical frame that follows them.

    ``module_offset`` is ``pc - module.start``. ``how`` says how this frame's registers were
    recovered: ``initial`` (the thread's registers), ``cfi`` (call frame information),
    ``signal`` (from a signal trampoline's saved context), ``fp`` (frame-pointer chain or
    return address at the stack pointer: a guess, so ``trusted`` is False). A ``tail_call``
    frame has no registers of its own: its pc is the return address of its tail call.
    """

    pc: int
    cfa: int | None
    module: str | None
    module_offset: int | None
    build_id: str | None
    function: str | None
    function_offset: int | None
    file: str | None
    line: int | None
    column: int | None
    inline: bool
    trusted: bool
    registers: dict[str, int]
    how: How
    tail_call: bool = False  # a function that tail-called the frame above (from DWARF call sites)
    # Module offset of the first instruction of the function holding the pc (the symbol's
    # start, else the FDE's); inline frames carry their physical function's.
    function_start: int | None = None
    signal_frame: bool = False  # a signal trampoline (gdb: "<signal handler called>")
    linkage_name: str | None = None  # C++ mangled name from DWARF: gdb names by its demangling


class Backtrace(list[UnwoundFrame]):
    """The frames of one thread, innermost first, plus why unwinding stopped.

    ``stop_reason`` is one of the ``STOP_*`` strings below, with details after a colon.
    ``notes`` records problems met on the way (a malformed section, a missing file).
    """

    def __init__(self) -> None:
        super().__init__()
        self.stop_reason: str = ""
        self.notes: list[str] = []


# Why the loop ended. "outermost" is the normal end of a complete stack.
STOP_OUTERMOST = "outermost"  # the CFI says the return address is undefined, or _start
STOP_PC_ZERO = "pc zero"
STOP_NOT_CODE = "pc not in code"  # a return address outside executable memory: garbage
STOP_MAX_FRAMES = "max frames"
STOP_NO_UNWIND_INFO = "no unwind info"
STOP_MEMORY = "memory unavailable"
STOP_CFA_NOT_INCREASING = "cfa not increasing"  # corrupt stack or a loop
STOP_BAD_RULE = "cfi rule not computable"
STOP_UNSUPPORTED_ARCH = "unsupported architecture"


class MemoryReader(Protocol):
    def read(self, address: int, size: int) -> bytes:
        """``size`` bytes at ``address``; raises ``MemoryUnavailable``."""
        ...


class CoreLike(Protocol):
    """The part of ``coresnap.corefile``'s ``Core`` the unwinder uses."""

    @property
    def ident(self) -> ElfIdent: ...

    @property
    def modules(self) -> list[Module]: ...

    @property
    def memory(self) -> MemoryReader: ...


@dataclass
class FrameState:
    """The registers of one physical frame while unwinding (DWARF numbers → values)."""

    pc: int
    regs: dict[int, int]
    cfa: int | None = None
    how: How = "initial"
    trusted: bool = True
    exact_pc: bool = True  # top frame, or interrupted by a signal: look up pc, not pc-1
    # This frame is a signal trampoline, known by its CFI ("cfi": the FDE has the S
    # augmentation and describes the saved context) or only by its code ("code": Go's
    # runtime.sigreturn, whose FDE describes an ordinary call frame; unwound from the context).
    trampoline: Literal["cfi", "code"] | None = None
    extra: dict[str, int] = field(default_factory=dict)  # registers with no DWARF number
