"""A pure-Python unwinder: CFI (``.eh_frame``/``.debug_frame``), frame-pointer fallback,
signal frames, ELF symbols, DWARF lines and inline frames. See ``docs/unwinder.md``.

The engine for BSD cores (no drgn there) and the fallback on Linux when drgn fails::

    frames = unwind_thread(core, thread)       # Backtrace: a list of UnwoundFrame
    frames.stop_reason                         # why it stopped ("outermost", "pc zero", ...)
"""

from coresnap.unwind.frames import Backtrace, UnwoundFrame
from coresnap.unwind.unwinder import unwind_thread

__all__ = ["Backtrace", "UnwoundFrame", "unwind_thread"]
