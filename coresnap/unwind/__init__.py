"""A pure-Python unwinder: CFI (``.eh_frame``/``.debug_frame``), frame-pointer fallback,
signal frames, ELF symbols, DWARF lines and inline frames. See ``docs/unwinder.md``.

The engine for BSD cores (no drgn there) and the fallback on Linux when drgn fails::

    frames = unwind_thread(core, thread)       # Backtrace: a list of UnwoundFrame
    frames.stop_reason                         # why it stopped ("outermost", "pc zero", ...)

The names below are imported on first use: the drgn engine uses a few modules of this package
(signal trampolines, scope chains) without paying for pyelftools when it needs none.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from coresnap.unwind.frames import Backtrace, UnwoundFrame
    from coresnap.unwind.unwinder import unwind_thread

__all__ = ["Backtrace", "UnwoundFrame", "unwind_thread"]
_HOMES = {"Backtrace": "frames", "UnwoundFrame": "frames", "unwind_thread": "unwinder"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
