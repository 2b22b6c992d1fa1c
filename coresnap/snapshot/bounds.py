"""How much of a process a snapshot keeps: every bound the engines apply, in one place.

Each bound that bites is recorded as a *cut* (a short sentence) on the variable or thread it
cut and in ``analysis.cuts``, so a reader knows the snapshot is partial and why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Bounds:
    max_threads: int = 1024  # threads described (the crashed one always is)
    max_frames: int = 256  # frames per thread
    max_vars_per_frame: int = 32
    max_string: int = 256  # bytes of a char array or char * string
    max_depth: int = 3  # struct/union/array nesting below a variable
    max_array: int = 16  # elements rendered of an array
    max_members: int = 32  # members rendered of a struct or union
    max_total_vars: int = 4000  # variables in the whole snapshot
    follow_pointers: int = 1  # levels of non-string pointers followed (crashed thread only)
    max_snapshot_bytes: int = 8 * 1024 * 1024  # compact JSON size before variables are shed

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT_BOUNDS = Bounds()
