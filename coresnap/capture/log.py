"""One log line per event, to syslog (the journal reads /dev/log), stderr and an optional file.

Stdlib only; never raises: a log that cannot be written must not stop a capture.
"""

from __future__ import annotations

import os
import sys
import syslog
import time


class Log:
    """Logger of the archive tool: ``info``, ``warn``, ``error`` each write one line."""

    def __init__(self, ident: str) -> None:
        self.ident = ident
        self.files: list[str] = []
        syslog.openlog(ident, syslog.LOG_PID, syslog.LOG_DAEMON)
        self.history: list[str] = []  # lines written before add_file, replayed into it

    def add_file(self, path: str) -> None:
        """Also append lines to ``path`` (from now on, plus the lines already logged)."""
        if path:
            self.files.append(path)
            for line in self.history:
                self._append(path, line)

    def info(self, message: str) -> None:
        self._emit(syslog.LOG_INFO, message)

    def warn(self, message: str) -> None:
        self._emit(syslog.LOG_WARNING, message)

    def error(self, message: str) -> None:
        self._emit(syslog.LOG_ERR, message)

    def _emit(self, priority: int, message: str) -> None:
        try:
            syslog.syslog(priority, message)
        except (OSError, ValueError):
            pass
        stamp = time.strftime("%b %d %H:%M:%S")
        line = f"{stamp} {os.uname().nodename} {self.ident}[{os.getpid()}]: {message}\n"
        self.history.append(line)
        try:
            sys.stderr.write(line)
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):
            pass
        for path in self.files:
            self._append(path, line)

    def _append(self, path: str, line: str) -> None:
        try:
            with open(path, "a") as f:
                f.write(line)
        except OSError:
            pass
