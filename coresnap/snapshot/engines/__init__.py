"""Snapshot engines: each turns a core into threads, frames and module facts.

``drgn`` (preferred: DWARF unwinding, inline frames, variables) and ``corefile`` (our own core
reader and ELF symbol tables only: the fallback that always works on a readable core). Both
return an :class:`~coresnap.snapshot.engines.result.EngineResult`; :mod:`coresnap.snapshot.build` merges it with the core facts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from coresnap.snapshot.engines.drgn_engine import DebugInfoLoad


def start_drgn(core: str, exe: str | None, engine: str = "auto") -> DebugInfoLoad | None:
    """Start drgn reading ``core``'s debug info on a thread, for ``build_snapshot(started=)``.

    Called before the rest of the snapshot code is imported, the imports overlap with drgn's work
    (:class:`~coresnap.snapshot.engines.drgn_engine.DebugInfoLoad`). None when the drgn engine
    will not run or cannot be loaded: ``build_snapshot`` then finds out again and says why.
    """
    if engine == "corefile":
        return None
    try:
        from coresnap.snapshot.engines.drgn_engine import DebugInfoLoad

        return DebugInfoLoad(core, exe)
    except Exception:  # noqa: BLE001 - ImportError or drgn's own: build_snapshot records it
        return None
