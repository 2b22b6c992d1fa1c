"""Step 2, ``sending → committed``: run put.command on the snapshot, then rename it.

The store keeps one object per id, so a put repeated after a kill (sent, but not yet renamed)
stores nothing twice; the dump reaches committed/ exactly once because only the rename does it.
"""

from __future__ import annotations

from coresnap.daemon import commands
from coresnap.daemon import dump as dumps
from coresnap.daemon.context import Context
from coresnap.daemon.snapshot import _status
from coresnap.errors import StepFailed
from coresnap.spool.stages import Stage


def put_snapshot(ctx: Context, dump: dumps.Dump) -> None:
    """Run the put step of ``dump``. Raises StepFailed (the snapshot stays in sending/)."""
    snapshot = ctx.spool.path(Stage.SENDING, dump.id)
    argv = commands.expand(ctx.cfg["put.command"], ctx.values(dump, str(snapshot)))
    ctx.log.info(f"{dump.id}: running {' '.join(argv)}")
    try:
        outcome = ctx.runner.run(argv, ctx.cfg["put.timeout"])
    except OSError as e:
        raise StepFailed("put", dump.id, f"{argv[0]}: {e.strerror or e}", "cannot_run") from None
    if outcome.timed_out:
        raise StepFailed("put", dump.id, f"timed out after {outcome.seconds:.0f}s", "timeout")
    if outcome.returncode != 0:
        raise StepFailed("put", dump.id, *_status(outcome))
    ctx.spool.advance(dump.id, Stage.SENDING, Stage.COMMITTED)
