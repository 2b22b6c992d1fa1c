"""coresnapd's warm snapshot worker: one process with the snapshot code imported and drgn
loaded, forking a child per dump (``python -m coresnap.daemon.zygote FD``).

It talks to coresnapd over the ``SOCK_SEQPACKET`` socket ``FD``, one JSON message per packet:

- coresnapd sends ``{"id", "args", "limits", "stderr"}``: run ``coresnap snapshot ARGS`` under
  ``limits`` (:class:`coresnap.snapshot.isolate.Limits`), its stderr into the file ``stderr``;
- the worker answers ``{"ready": pid}`` once, then per job ``{"id", "pid"}`` when the child
  is forked and ``{"id", "status"}`` when it has been reaped (``status``: its exit code, or
  minus the signal that killed it).

Each child is what ``coresnap snapshot --isolate`` starts, minus the interpreter's start-up:
its own session, CPU and address-space limits, no core, killed if this worker dies
(``PR_SET_PDEATHSIG``). The worker itself stays single-threaded (fork copies only the calling
thread) and blocks in ``select`` between jobs: no CPU while idle. It exits when coresnapd
closes the socket, killing the children still running.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import json
import os
import pkgutil
import selectors
import signal
import socket
import sys
from typing import Any

from coresnap.daemon import commands
from coresnap.daemon.warm import MAX_MESSAGE, PR_SET_PDEATHSIG
from coresnap.errors import CoresnapError
from coresnap.snapshot import isolate, worker

# Imported before the first fork, so that no child pays for them: the snapshot command and
# everything it imports while it runs (engines, analysis, unwinder, formats), and drgn. The
# drgn engine comes first: it sets OMP_NUM_THREADS before libdrgn (and libgomp) load.
PRELOAD = ("coresnap.snapshot.engines.drgn_engine", "coresnap.snapshot.command",
           "coresnap.snapshot",
           "coresnap.snapshot.engines", "coresnap.analysis", "coresnap.unwind",
           "coresnap.corefile")  # fmt: skip


def preload() -> list[str]:
    """Import :data:`PRELOAD` and every module below it, and compile the analysis rules
    (:func:`coresnap.analysis.warm`); returns what failed."""
    failed = []
    for name in PRELOAD:
        try:
            package = importlib.import_module(name)
        except ImportError:
            failed.append(name)
            continue
        for info in pkgutil.walk_packages(getattr(package, "__path__", []), name + "."):
            try:
                importlib.import_module(info.name)
            except ImportError:  # an optional engine (drgn absent): the child says so itself
                failed.append(info.name)
    try:
        import drgn

        drgn.Program()  # libdrgn loaded and initialized
    except ImportError:
        failed.append("drgn")
    try:
        from coresnap.snapshot.engines.drgn_inflate import prepare

        prepare()  # the debug files of the libraries most processes map, inflated once
    except (ImportError, OSError) as e:
        failed.append(f"coresnap.snapshot.engines.drgn_inflate ({e})")
    try:
        from coresnap.analysis import warm

        warm()  # the rule files compiled once here, not in every child
    except (ImportError, OSError, ValueError) as e:
        failed.append(f"coresnap.analysis.warm ({e})")
    from coresnap.snapshot.command import parser

    parser()  # the snapshot command's arguments, parsed in every child
    try:
        from coresnap import config
        from coresnap.capture.policy import load_policy

        # Each child reads the privacy policy again (coresnap.conf may change), but finds its
        # ~50 regular expressions compiled in re's cache.
        load_policy(config.load())
    except CoresnapError as e:
        failed.append(f"privacy policy ({e})")
    return failed


def _child(job: dict[str, Any], close: list[int]) -> int:
    """In the forked child: isolate, then run the snapshot (the caller exits with the result)."""
    parent = os.getppid()
    os.setsid()
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the worker died before the line above: die with it
        return worker.EXIT_ENGINE_FAILED
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd in close:
        os.close(fd)
    isolate.apply_limits(isolate.Limits(**job["limits"]))
    null = os.open(os.devnull, os.O_RDWR)
    err = os.open(job["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    for target, source in ((0, null), (1, null), (2, err)):
        os.dup2(source, target)
    return worker.run_command(list(job["args"]))


class Zygote:
    """The worker loop: jobs in from coresnapd, children out, their statuses back."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.children: dict[int, int] = {}  # pid -> job id
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)

    def send(self, message: dict[str, Any]) -> None:
        self.sock.send(json.dumps(message).encode())

    def serve(self) -> int:
        self.send({"ready": os.getpid()})
        with selectors.DefaultSelector() as sel:
            sel.register(self.sock, selectors.EVENT_READ)
            sel.register(self.wake_r, selectors.EVENT_READ)
            while True:
                for key, _ in sel.select():
                    if key.fileobj is self.wake_r:
                        os.read(self.wake_r, 4096)
                        self.reap()
                    elif not self.job():
                        return self.stop()

    def job(self) -> bool:
        """Fork the child of one job; False when coresnapd closed the socket."""
        data = self.sock.recv(MAX_MESSAGE)
        if not data:
            return False
        job = json.loads(data)
        pid = os.fork()
        if pid == 0:
            code = worker.EXIT_ENGINE_FAILED
            try:
                code = _child(job, [self.sock.fileno(), self.wake_r, self.wake_w])
            finally:
                os._exit(code)
        self.children[pid] = job["id"]
        self.send({"id": job["id"], "pid": pid})
        return True

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            job_id = self.children.pop(pid, None)
            if job_id is not None:
                self.send({"id": job_id, "status": os.waitstatus_to_exitcode(status)})

    def stop(self) -> int:
        for pid in self.children:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    sock = socket.socket(fileno=int(args[0]))
    commands.drop_capabilities()  # coresnapd's are for its socket captures, not for snapshots
    worker.not_dumpable()
    preload()
    gc.freeze()  # the imported objects stay shared with the children (no refcount-driven copies)
    return Zygote(sock).serve()


if __name__ == "__main__":
    sys.exit(main())
