"""The dump root: stages as directories, transitions as renames, and the drop counters."""

from coresnap.spool.stages import Spool, Stage

__all__ = ["Spool", "Stage"]
