"""coresnapd's side of the warm snapshot worker (:mod:`coresnap.daemon.zygote`).

When ``snapshot.command`` runs the built-in ``coresnap snapshot`` (``snapshot.warm = yes``),
the snapshot step asks the warm worker for a forked child instead of starting a new Python: a
dump costs the analysis, not the interpreter's start-up and imports. The step keeps the
semantics of the command: with ``--isolate`` the child gets its ``--cpu``/``--memory``/
``--timeout`` limits, and a child that fails is followed by the core-reader engine in a second
child, with the reason recorded (``analysis.fallback_reason``), as
:func:`coresnap.snapshot.isolate.run_snapshot` does; ``snapshot.timeout`` and
``snapshot.memory`` bound both, as for any step command.

A reader thread receives the worker's messages (it blocks in ``recv``: no CPU while idle).
If the worker dies (``kill -9``, a bug), every job it held is retried once on a fresh worker;
a child that crashes or hangs only costs its own job.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import json
import logging
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from coresnap.daemon import commands
from coresnap.errors import WarmWorkerError
from coresnap.snapshot import command as snapshot_command
from coresnap.snapshot import isolate

MAX_MESSAGE = 1 << 16  # one job or status message (SOCK_SEQPACKET keeps them apart)
PR_SET_PDEATHSIG = 1  # include/uapi/linux/prctl.h
START_TIMEOUT = 120.0  # seconds for the worker to import everything and say it is ready
KILLED_GRACE = 30.0  # seconds to hear a killed child's status


def built_in(argv: list[str]) -> list[str] | None:
    """The arguments of ``coresnap snapshot ARGS`` when ``argv`` runs this installation's
    ``coresnap snapshot`` with arguments it takes, else None: another program (or a usage
    error, which the command itself reports) runs as a plain command."""
    if len(argv) < 2 or argv[1] != "snapshot":
        return None
    if commands.resolve(argv[:1])[0] != commands.resolve(["coresnap"])[0]:
        return None
    try:
        _parser().parse_args(argv[2:])
    except (argparse.ArgumentError, SystemExit):
        return None
    return argv[2:]


def _die_with_parent() -> None:
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class _Job:
    """One child of the worker, as coresnapd follows it."""

    def __init__(self, job_id: int, sock: socket.socket) -> None:
        self.id, self.sock = job_id, sock
        self.done = threading.Event()
        self.pid: int | None = None
        self.pidfd: int | None = None
        self.status: int | None = None
        self.lost = ""  # why the worker went away under this job

    def update(self, message: dict[str, Any]) -> None:
        if "pid" in message:
            self.pid = int(message["pid"])
            try:
                self.pidfd = os.pidfd_open(self.pid)
            except OSError:  # already exited (and soon reaped): its status follows
                self.pidfd = None
        if "status" in message:
            self.status = int(message["status"])
            self.done.set()

    def kill(self) -> None:
        """SIGKILL the child's process group, unless the worker already reaped it."""
        if self.pid is None or self.pidfd is None:
            return
        try:
            signal.pidfd_send_signal(self.pidfd, 0)  # fails once reaped: the pid may be reused
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


class WarmWorker:
    """The pre-started worker and the jobs it runs; thread-safe (one job per daemon worker)."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._jobs: dict[int, _Job] = {}
        self._next = 0
        self.starts = 0  # workers started: 1, plus one per restart

    @property
    def pid(self) -> int | None:
        """The worker's pid while it runs."""
        with self._lock:
            return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        """Start the worker now (coresnapd does at start-up). Raises WarmWorkerError."""
        with self._lock:
            self._ensure()

    def _ensure(self) -> socket.socket:
        if self._sock is not None and self._proc is not None and self._proc.poll() is None:
            return self._sock
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "coresnap.daemon.zygote", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, preexec_fn=_die_with_parent,
            )  # fmt: skip
        finally:
            theirs.close()
        ours.settimeout(START_TIMEOUT)
        try:
            ready = json.loads(ours.recv(MAX_MESSAGE) or b"{}")
        except (OSError, ValueError) as e:
            proc.kill()
            proc.wait()
            ours.close()
            raise WarmWorkerError(f"the warm snapshot worker did not start: {e}") from None
        ours.settimeout(None)
        self._proc, self._sock = proc, ours
        self.starts += 1
        threading.Thread(
            target=self._read, args=(proc, ours), name="warm-reader", daemon=True
        ).start()
        self.log.info(f"warm snapshot worker ready (pid {ready.get('ready')})")
        return ours

    def _read(self, proc: subprocess.Popen[bytes], sock: socket.socket) -> None:
        """The reader thread of one worker: dispatch its messages; when it goes, fail its jobs."""
        while True:
            try:
                data = sock.recv(MAX_MESSAGE)
            except OSError:
                data = b""
            if not data:
                break
            message = json.loads(data)
            with self._lock:
                job = self._jobs.get(message.get("id"))
            if job is not None:
                job.update(message)
        code = proc.wait()
        why = f"the warm snapshot worker (pid {proc.pid}) " + (
            f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited {code}"
        )
        with self._lock:
            if self._proc is proc:
                self._proc = self._sock = None
            lost = [j for j in self._jobs.values() if j.sock is sock]
        for job in lost:
            job.lost = why
            job.done.set()
        sock.close()
        if lost or code:
            self.log.warning(f"{why}; the next job starts a new one")

    def run(self, args: list[str], limits: isolate.Limits, timeout: float) -> commands.Outcome:
        """Run ``coresnap snapshot ARGS`` in a forked child under ``limits`` for at most
        ``timeout`` seconds. Raises WarmWorkerError if no worker can run it."""
        started = time.monotonic()
        for attempt in (1, 2):
            left = max(0.0, timeout - (time.monotonic() - started))
            outcome, lost = self._attempt(args, limits, left)
            if not lost:
                return commands.Outcome(outcome.returncode, outcome.stderr,
                                        time.monotonic() - started, outcome.timed_out)  # fmt: skip
            self.log.warning(f"{lost} during a snapshot (attempt {attempt})")
        raise WarmWorkerError(f"{lost}, twice under the same snapshot")

    def _attempt(
        self, args: list[str], limits: isolate.Limits, timeout: float
    ) -> tuple[commands.Outcome, str]:
        fd, err = tempfile.mkstemp(prefix="coresnap-warm-", suffix=".stderr")
        os.close(fd)
        with self._lock:
            sock = self._ensure()
            self._next += 1
            job = self._jobs[self._next] = _Job(self._next, sock)
        started = time.monotonic()
        try:
            message = {"id": job.id, "args": args, "stderr": err,
                       "limits": {"cpu_seconds": limits.cpu_seconds,
                                  "memory_mb": limits.memory_mb}}  # fmt: skip
            try:
                sock.send(json.dumps(message).encode())
            except OSError as e:
                return commands.Outcome(-1, "", 0.0), f"the warm snapshot worker is gone ({e})"
            timed_out = not job.done.wait(timeout)
            if timed_out:
                job.kill()
                job.done.wait(KILLED_GRACE)
            status = job.status if job.status is not None else -signal.SIGKILL
            return commands.Outcome(status, _tail(err), time.monotonic() - started,
                                    timed_out), "" if job.status is not None else job.lost  # fmt: skip
        finally:
            with self._lock:
                self._jobs.pop(job.id, None)
            job.close()
            os.unlink(err)

    def snapshot(self, args: list[str], timeout: float, memory: int) -> commands.Outcome:
        """The snapshot step of ``coresnap snapshot ARGS`` (see the module docstring); at most
        ``timeout`` seconds and ``memory`` bytes of address space (0: no limit) in all.
        Raises WarmWorkerError."""
        parsed = _parser().parse_args(args)
        mib = memory >> 20 if memory else 1 << 30
        if not parsed.isolate:
            cpu = math.ceil(timeout * (os.cpu_count() or 1)) + 1  # threads add up: CPU > wall
            return self.run(args, isolate.Limits(cpu, mib, timeout), timeout)
        limits = isolate.Limits(parsed.cpu, min(parsed.memory, mib), min(parsed.timeout, timeout))
        first = self.run(args, limits, limits.wall_seconds)
        if first.returncode == 0:
            return first
        why = (f"snapshot child exceeded the wall-clock limit of {limits.wall_seconds:g} s"
               if first.timed_out else isolate.explain(first.returncode, first.stderr, limits))  # fmt: skip
        fallback = [*args, "--engine", "corefile", "--fallback-reason", why or "child failed"]
        second = self.run(fallback, limits, max(1.0, timeout - first.seconds))
        return commands.Outcome(second.returncode, second.stderr, first.seconds + second.seconds,
                                second.timed_out)  # fmt: skip

    def close(self) -> None:
        """Kill the running children and stop the worker (coresnapd is stopping)."""
        with self._lock:
            jobs, proc, sock = list(self._jobs.values()), self._proc, self._sock
            self._proc = self._sock = None
        for job in jobs:
            job.kill()
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
        if proc is not None:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@functools.cache
def _parser() -> argparse.ArgumentParser:
    # Made once: building it costs ~6 ms, on the path of every dump (parse_args keeps no state).
    parser = argparse.ArgumentParser(prog="coresnap snapshot", exit_on_error=False, add_help=False)
    snapshot_command.configure(parser)
    return parser


def _tail(path: str) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - commands.STDERR_TAIL))
            return f.read().decode(errors="replace").strip()
    except OSError:
        return ""
