"""Step 1, ``pending → sending``: run snapshot.command on the core, publish the snapshot.

A FreeBSD kernel dump (assets of ``kind: freebsd-kernel``, spooled by ``coresnap
kernel-import``) runs ``coresnap kernel-snapshot`` instead of snapshot.command. The command
writes ``%S`` = ``staging/<id>.snap.<pid>``, a file no one else reads; only a
zero exit status with a non-empty file is published (fsync + rename into ``sending/<id>``).
The built-in ``coresnap snapshot`` runs in the warm worker (:mod:`.warm`), any other command
as a child process. The core in pending/ is then disposed of by the retention policy. A dump
whose snapshot is in sending/ while its core is still pending (a kill between the two) only
needs that last part.
"""

from __future__ import annotations

from coresnap.daemon import commands, warm
from coresnap.daemon import dump as dumps
from coresnap.daemon.context import Context
from coresnap.errors import StepFailed, StepReason
from coresnap.kernel import capture as kernel_capture
from coresnap.spool.stages import Stage


def make_snapshot(ctx: Context, dump: dumps.Dump) -> None:
    """Run the snapshot step of ``dump``. Raises StepFailed (the dump stays in pending/)."""
    cfg = ctx.cfg
    temp = ctx.spool.staging_path(dump.id, "snap")
    command = cfg["snapshot.command"]
    if dump.meta.get("kind") == kernel_capture.KIND:  # a FreeBSD kernel dump (kernel-import)
        command = kernel_capture.SNAPSHOT_COMMAND
    template = f"{command} {cfg['defaults.command']}".strip()
    argv = commands.expand(template, ctx.values(dump, str(temp)))
    ctx.log.info(f"{dump.id}: running {' '.join(argv)}")
    try:
        outcome = _run(ctx, argv)
        if outcome.timed_out:
            raise StepFailed(
                "snapshot", dump.id, f"timed out after {outcome.seconds:.0f}s", "timeout"
            )
        if outcome.returncode != 0:
            raise StepFailed("snapshot", dump.id, *_status(outcome))
        if not temp.is_file() or temp.stat().st_size == 0:
            raise StepFailed(
                "snapshot", dump.id, f"exit 0 but no snapshot written to {temp}", "no_output"
            )
        ctx.spool.publish(temp, Stage.SENDING, dump.id)
    except OSError as e:
        raise StepFailed(
            "snapshot", dump.id, f"{argv[0]}: {e.strerror or e}", "cannot_run"
        ) from None
    finally:
        temp.unlink(missing_ok=True)


def _run(ctx: Context, argv: list[str]) -> commands.Outcome:
    """Run the snapshot command: in the warm worker when it is the built-in one. Raises OSError."""
    cfg = ctx.cfg
    args = warm.built_in(argv) if ctx.warm is not None else None
    if ctx.warm is not None and args is not None:
        return ctx.warm.snapshot(args, cfg["snapshot.timeout"], cfg["snapshot.memory"])
    return ctx.runner.run(argv, cfg["snapshot.timeout"], cfg["snapshot.memory"])


def _status(outcome: commands.Outcome) -> tuple[str, StepReason]:
    """What a failed command's status says, and its :attr:`StepFailed.REASONS` reason."""
    code = outcome.returncode
    status = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
    what = f"{status}: {outcome.stderr}" if outcome.stderr else status
    return what, "killed" if code < 0 else "exit_status"
