"""What every step needs: settings, the spool, the command runners, routing, the log."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from coresnap.config import Config
from coresnap.daemon import commands, routing, warm
from coresnap.daemon import dump as dumps
from coresnap.daemon.warm import WarmWorker
from coresnap.spool.stages import Spool


@dataclass
class Context:
    cfg: Config
    spool: Spool
    runner: commands.Runner
    log: logging.Logger
    rules: list[routing.Rule] = field(default_factory=list)
    warm: WarmWorker | None = None  # runs the built-in snapshot command (snapshot.warm)

    @classmethod
    def create(cls, cfg: Config, spool: Spool, inherit: bool, log: logging.Logger) -> Context:
        """Check the step templates and routing rules. Raises ConfigError."""
        commands.check_template(cfg["snapshot.command"], f"{cfg.source}: snapshot.command")
        commands.check_template(cfg["put.command"], f"{cfg.source}: put.command")
        commands.check_template(cfg["defaults.command"], f"{cfg.source}: defaults.command")
        built_in = warm.built_in(commands.expand(cfg["snapshot.command"], {})) is not None
        worker = WarmWorker(log) if cfg["snapshot.warm"] == "yes" and built_in else None
        return cls(cfg, spool, commands.Runner(inherit), log, routing.rules(cfg), worker)

    def values(self, dump: dumps.Dump, snapshot: str) -> dict[str, str]:
        """The % field values of ``dump``, with its project chosen by the format.N rules."""
        base = dumps.values(self.spool, dump, self.cfg, snapshot, self.cfg["defaults.project"])
        base["project"] = routing.project(self.rules, base, self.cfg["defaults.project"])
        return base
