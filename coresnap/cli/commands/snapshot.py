"""``coresnap snapshot CORE [EXE] -o FILE``: turn a core into a snapshot (or JSON on stdout);
the command itself is :mod:`coresnap.snapshot.command` (coresnapd's warm worker runs it too)."""

from __future__ import annotations

from coresnap.cli.commands import Command
from coresnap.snapshot.command import HELP, configure, run

COMMAND = Command("snapshot", HELP, configure, run)
