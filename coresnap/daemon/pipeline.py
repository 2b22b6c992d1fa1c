"""The pipeline table: for each stage that holds work, the step that moves it on.

The stages of :class:`coresnap.spool.Stage`, the directories under dump.root and this table
describe the same set (a test says so): staging is written by the archive tool, committed and
failed are ends, assets travel beside the dump.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from coresnap.daemon import dump as dumps
from coresnap.daemon.context import Context
from coresnap.daemon.put import put_snapshot
from coresnap.daemon.snapshot import make_snapshot
from coresnap.spool.stages import Stage


class Step(NamedTuple):
    name: str
    source: Stage
    run: Callable[[Context, dumps.Dump], None]
    target: Stage
    retries_setting: str  # how many extra attempts before failed/ (0: for ever, if store)
    # Talks to the store: waits out the store's backoff, a failure backs the store off, and
    # retries 0 means for ever (the store comes back; the host must not drop the crash).
    store: bool = False


# Later stages first: finishing work frees disk before starting new work.
PIPELINE: tuple[Step, ...] = (
    Step("put", Stage.SENDING, put_snapshot, Stage.COMMITTED, "put.retries", store=True),
    Step("snapshot", Stage.PENDING, make_snapshot, Stage.SENDING, "snapshot.retries"),
)
WRITTEN_BY_ARCHIVE = (Stage.STAGING,)
ENDS = (Stage.COMMITTED, Stage.FAILED)
BESIDE = (Stage.ASSETS,)
