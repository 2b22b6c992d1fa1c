"""What an engine returns: threads, frames and module facts, merged into the snapshot by
:mod:`coresnap.snapshot.merge`."""

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
