"""Step commands: the seeds' % fields, expansion into argv, and running one bounded child.

A command is a template split like a shell line (``shlex``) *before* expansion, so a path
with spaces stays one argument. Children get limits (RLIMIT_AS, a wall-clock timeout, their own
process group) and die with the worker thread that started them (PR_SET_PDEATHSIG): a
``kill -9`` of coresnapd leaves no step running that could race its restarted self.
"""

from __future__ import annotations

import ctypes
import os
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from coresnap.errors import ConfigError

FIELDS: dict[str, tuple[str, str]] = {
    "c": ("core", "the core file (pending/<id>)"),
    "S": ("snapshot", "the snapshot: being written (snapshot step) or sent (put step)"),
    "a": ("assets", "the asset tar (assets/<id>)"),
    "B": ("object", "the object id: the dump id, 32 hex digits"),
    "e": ("exe_name", "the executable's file name"),
    "E": ("exe", "the executable's path (via /proc/<pid>/root for a container)"),
    "P": ("pid", "the crashed process id (initial pid namespace)"),
    "s": ("signal", "the signal number"),
    "t": ("time", "the crash time, seconds since the epoch"),
    "h": ("hostname", "the host name"),
    "p": ("project", "the project chosen by the format.N rules (or defaults.project)"),
    "T": ("token", "the token name (defaults.token)"),
    "C": ("coroner_config", "the coroner.cf of coroner.config"),
    "r": ("root", "dump.root"),
}
_SPEC = re.compile(r"%(.)")
PR_SET_PDEATHSIG = 1  # include/uapi/linux/prctl.h
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4  # include/uapi/linux/prctl.h
_LINUX_CAPABILITY_VERSION_3 = 0x20080522  # include/uapi/linux/capability.h
STDERR_TAIL = 2000


def check_template(template: str, source: str) -> None:
    """Raise ConfigError if ``template`` uses a % field that does not exist."""
    for m in _SPEC.finditer(template):
        if m.group(1) != "%" and m.group(1) not in FIELDS:
            raise ConfigError(source, f"unknown field %{m.group(1)} in {template!r}")


def expand(template: str, values: Mapping[str, str]) -> list[str]:
    """Split ``template`` into argv, then replace each ``%x`` by ``values[FIELDS[x][0]]``."""

    def field(m: re.Match[str]) -> str:
        if m.group(1) == "%":
            return "%"
        return str(values.get(FIELDS[m.group(1)][0], ""))

    return [_SPEC.sub(field, word) for word in shlex.split(template)]


def resolve(argv: list[str]) -> list[str]:
    """Find a bare program name next to our interpreter first (a virtualenv's coresnap),
    then on PATH."""
    if argv and "/" not in argv[0]:
        beside = Path(sys.executable).parent / argv[0]
        if beside.is_file() and os.access(beside, os.X_OK):
            return [str(beside), *argv[1:]]
        found = shutil.which(argv[0])
        if found:
            return [found, *argv[1:]]
    return argv


@dataclass
class Outcome:
    returncode: int
    stderr: str  # the tail of what the child wrote
    seconds: float
    timed_out: bool = False


def drop_capabilities() -> None:
    """Give up every capability this process holds (ambient ones first, which survive exec).

    coresnapd may run with a few (packaging/systemd: to read the crashed process for the
    coredump socket's captures); the steps it starts read hostile cores and need none. As
    root (uid 0) only the ambient set is cleared: root keeps its own file access.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    if os.getuid() != 0:
        header = (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
        libc.capset(header, (ctypes.c_uint32 * 6)())  # effective, permitted, inheritable x2


def _child_setup(memory: int) -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        drop_capabilities()
    if memory:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))


class Runner:
    """Runs step commands and remembers the live ones, so a stopping daemon can end them."""

    def __init__(self, inherit: bool = False) -> None:
        self.inherit = inherit
        self._live: set[int] = set()
        self._lock = threading.Lock()

    def run(self, argv: list[str], timeout: float, memory: int = 0) -> Outcome:
        """Run ``argv`` to completion (its process group is killed after ``timeout`` seconds).

        With ``inherit`` the child writes to our stdout/stderr (coresnapd -f), else its stderr
        tail is kept for the failure reason. Raises OSError if it cannot be started.
        """
        start = time.monotonic()
        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(
                resolve(argv),
                stdin=subprocess.DEVNULL,
                stdout=None if self.inherit else subprocess.DEVNULL,
                stderr=None if self.inherit else err,
                start_new_session=True,
                preexec_fn=lambda: _child_setup(memory),
            )
            with self._lock:
                self._live.add(proc.pid)
            timed_out = False
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                _killpg(proc.pid)
                proc.wait()
            finally:
                with self._lock:
                    self._live.discard(proc.pid)
            err.seek(max(0, err.seek(0, os.SEEK_END) - STDERR_TAIL))
            tail = err.read().decode(errors="replace").strip()
        return Outcome(proc.returncode, tail, time.monotonic() - start, timed_out)

    def kill_all(self) -> None:
        """SIGKILL the process group of every running step (their dumps stay where they are)."""
        with self._lock:
            live = list(self._live)
        for pid in live:
            _killpg(pid)


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
