"""Snapshot engines: each turns a core into threads, frames and module facts.

``drgn`` (preferred: DWARF unwinding, inline frames, variables) and ``corefile`` (our own core
reader and ELF symbol tables only: the fallback that always works on a readable core). Both
return an :class:`EngineResult`; :mod:`coresnap.snapshot.build` merges it with the core facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class EngineResult:
    engine: str  # "drgn" | "corefile"
    threads: list[dict[str, Any]]  # snapshot thread records (schema $defs/thread)
    crashed_tid: int | None
    modules: list[dict[str, Any]] = field(default_factory=list)  # schema $defs/module
    cuts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
