"""coresnapd's loop: wait for dumps, run their steps on a bounded pool, retry, retain, count.

State is the file system only. The loop rescans pending/ and sending/ after each wake-up
(a new file, a finished job, a timer) and hands each id not already busy or backing off to a
worker thread; at most ``daemon.workers`` jobs exist at once, whatever the backlog. A failed
step is retried after an exponential backoff, then the dump goes to failed/ with the reason;
a put that fails pauses every put (the store is one place) but never fails a dump unless
``put.retries`` says so. Nothing here is lost on a kill: every move is a rename, and
:meth:`Daemon.recover` finishes what was between two renames.
"""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from typing import IO

from coresnap.config import Config
from coresnap.daemon import dump as dumps
from coresnap.daemon import listener, watch
from coresnap.daemon.context import Context
from coresnap.daemon.listener import Listener
from coresnap.daemon.metrics import HostMetrics
from coresnap.daemon.pipeline import PIPELINE, Step
from coresnap.daemon.ratelimit import Storm
from coresnap.daemon.retention import Retention
from coresnap.daemon.snapshotfile import fingerprint
from coresnap.errors import AlreadyRunning, StepFailed
from coresnap.spool import counters
from coresnap.spool.stages import Spool, Stage

LOCK_FILE = "coresnapd.lock"
PURGE_EVERY = 3600.0  # seconds between two purge passes (plus one after each commit)


class Daemon:
    def __init__(self, cfg: Config, root: str, log: logging.Logger, inherit: bool = False):
        self.cfg = cfg
        self.spool = Spool(root)
        self.log = log
        self.ctx = Context.create(cfg, self.spool, inherit, log)
        self.retention = Retention(self.spool, cfg)
        self.storm = Storm(cfg["ratelimit.exe"], cfg["ratelimit.fingerprint"])
        self.metrics = HostMetrics(self.spool)
        self.stopping = False
        self._busy: set[str] = set()
        self._attempts: dict[str, int] = {}
        self._not_before: dict[str, float] = {}
        self._store_not_before = 0.0
        self._store_failures = 0
        self._next_purge = 0.0
        self._lock = threading.Lock()  # guards the dicts above
        self._jobs: queue.Queue[tuple[Step, str] | None] = queue.Queue()
        self._watcher: watch.Watcher | None = None
        # What the daemon does around a step, by the stage it takes dumps from (see PIPELINE):
        # whether to admit a dump, and what follows once it reached the step's target.
        self._admit: dict[Stage, Callable[[dumps.Dump], bool]] = {Stage.PENDING: self._admit_crash}
        self._arrived: dict[Stage, Callable[[dumps.Dump, float], None]] = {
            Stage.PENDING: self._snapshot_made,
            Stage.SENDING: self._put_done,
        }

    def run(self) -> int:
        """Process dumps until SIGTERM/SIGINT. Raises AlreadyRunning, OSError."""
        self.spool.create()
        lock = self._take_lock()
        metrics = self.metrics.serve(self.cfg["metrics.listen"], self.log)
        receiver: Listener | None = None
        try:
            self._watcher = watch.watcher(
                [self.spool.dir(Stage.PENDING), self.spool.dir(Stage.SENDING)]
            )
            self.recover()
            if self.ctx.warm is not None:
                self._start_warm()
            receiver = self._listen()
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self._on_signal)
            workers = [threading.Thread(target=self._worker, name=f"worker-{n}", daemon=True)
                       for n in range(max(1, self.cfg["daemon.workers"]))]  # fmt: skip
            for w in workers:
                w.start()
            self.log.info(f"coresnapd watching {self.spool.root} with {len(workers)} workers")
            while not self.stopping:
                self._watcher.wait(self._timeout(self._dispatch()))
            self._shutdown(workers)
        finally:
            if receiver is not None:
                receiver.close()
            if self._watcher:
                self._watcher.close()
            if metrics:
                metrics.close()
            lock.close()
        return 0

    def _take_lock(self) -> IO[str]:
        lock = open(self.spool.root / LOCK_FILE, "a+")  # noqa: SIM115 - held for the run
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            pid = lock.read().strip()
            lock.close()
            raise AlreadyRunning(str(self.spool.root), pid) from None
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        return lock

    def recover(self) -> None:
        """Clean what a killed writer left, and finish dumps killed between two renames."""
        for action in self.spool.recover():
            self.log.info(f"recover: {action}")
        sending = set(self.spool.ids(Stage.SENDING)) | set(self.spool.ids(Stage.COMMITTED))
        for dump_id in self.spool.ids(Stage.PENDING):
            if dump_id in sending:
                self.log.info(f"recover: {dump_id}: snapshot made, disposing of its core")
                self._after_snapshot(dumps.load(self.spool, dump_id), recovering=True)

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.log.info(f"coresnapd stopping ({signal.Signals(signum).name})")
        self.stopping = True
        if self._watcher:
            self._watcher.wake()

    def _listen(self) -> Listener | None:
        """Receive cores on the coredump socket: systemd's, else ``capture.socket``'s."""
        path = self.cfg["capture.socket"]
        sock = listener.inherited() or (listener.bind(path) if path else None)
        if sock is None:
            return None
        receiver = Listener(self.cfg, str(self.spool.root), sock, self.log, self.storm.admit)
        receiver.start()
        return receiver

    def _start_warm(self) -> None:
        """Start the warm worker from the main thread (its PR_SET_PDEATHSIG follows the thread
        that started it); a failure is logged, and the first snapshot tries again."""
        assert self.ctx.warm is not None
        try:
            self.ctx.warm.start()
        except OSError as e:
            self.log.error(f"{e}; snapshots will start it again")

    def _shutdown(self, workers: list[threading.Thread]) -> None:
        for _ in workers:
            self._jobs.put(None)
        self.ctx.runner.kill_all()
        if self.ctx.warm is not None:
            self.ctx.warm.close()
        for w in workers:
            w.join(timeout=10)

    def _dispatch(self) -> float:
        """Hand ready dumps to free workers; returns the time it considered "now"."""
        now = time.monotonic()
        if now >= self._next_purge:
            self._purge()
            self._next_purge = now + PURGE_EVERY
        with self._lock:
            free = max(1, self.cfg["daemon.workers"]) - len(self._busy)
            for step in PIPELINE:
                if step.store and now < self._store_not_before:
                    continue
                for dump_id in self.spool.ids(step.source):
                    if free <= 0:
                        return now
                    if dump_id in self._busy or self._not_before.get(dump_id, 0) > now:
                        continue
                    self._busy.add(dump_id)
                    self._jobs.put((step, dump_id))
                    free -= 1
        return now

    def _timeout(self, dispatched: float) -> float:
        """Seconds until the next timer (a retry, the store's backoff, a purge) that was still
        ahead when ``_dispatch`` looked at the clock (``dispatched``): one that fell due since
        then gives 0, a stale one (its dump is gone) is ignored."""
        now = dispatched
        with self._lock:
            times = [t for t in self._not_before.values() if t > now]
            if self._store_not_before > now:
                times.append(self._store_not_before)
        times.append(self._next_purge)
        return max(0.0, min(times) - time.monotonic())

    def _worker(self) -> None:
        while (job := self._jobs.get()) is not None:
            step, dump_id = job
            try:
                self._process(step, dumps.load(self.spool, dump_id))
            except FileNotFoundError as e:
                self.log.info(f"{dump_id}: gone while being processed ({e.filename})")
            except Exception:  # a bug must not kill the worker: log it, back off, go on
                self.log.exception(f"{dump_id}: unexpected error in {step.name}")
                self._backoff(dump_id)
            finally:
                with self._lock:
                    self._busy.discard(dump_id)
                if self._watcher:
                    self._watcher.wake()

    def _process(self, step: Step, dump: dumps.Dump) -> None:
        admit = self._admit.get(step.source)
        if admit is not None and not admit(dump):
            return
        started = time.monotonic()
        try:
            step.run(self.ctx, dump)
        except StepFailed as e:
            self._step_failed(step, dump, e)
            return
        with self._lock:
            self._attempts.pop(dump.id, None)
            self._not_before.pop(dump.id, None)
        self._arrived[step.source](dump, time.monotonic() - started)

    def _admit_crash(self, dump: dumps.Dump) -> bool:
        """Count a new crash; False (and the dump dropped) when over ratelimit.exe."""
        self.metrics.crash(dump)
        if not self.storm.snapshot_allowed(str(dump.meta.get("pid", "")), dump.exe_name):
            self._drop(dump, "ratelimit.exe", f"over ratelimit.exe for {dump.exe_name}")
            return False
        return True

    def _snapshot_made(self, dump: dumps.Dump, seconds: float) -> None:
        self.metrics.snapshot_made(dump.id, seconds)
        self._after_snapshot(dump)

    def _put_done(self, dump: dumps.Dump, seconds: float) -> None:
        self.metrics.committed(dump, seconds)
        self._committed(dump)

    def _after_snapshot(self, dump: dumps.Dump, recovering: bool = False) -> None:
        snapshot = self.spool.path(Stage.SENDING, dump.id)
        fp = fingerprint(snapshot) if snapshot.exists() else None
        if fp and not recovering and not self.storm.put_allowed(dump.exe_name, fp):
            snapshot.unlink(missing_ok=True)
            self._drop(dump, "ratelimit.fingerprint", f"over ratelimit.fingerprint for {fp[:12]}")
        kept = self.retention.core_done(dump, fp)
        self.retention.drop_assets_if_unused(dump.id)
        self.log.info(f"{dump.id}: snapshot made; core {kept}")

    def _committed(self, dump: dumps.Dump) -> None:
        with self._lock:
            self._store_failures = 0
            self._store_not_before = 0.0
        counters.bump(self.spool.root, {"committed": 1})
        started = dump.meta.get("archived_at")
        took = f" in {time.time() - float(started):.1f} seconds" if started else ""
        self.log.info(f"crash {dump.id} ({dump.exe_name}) processed{took}")
        if self.cfg["purge.total"]:
            self._purge()

    def _drop(self, dump: dumps.Dump, counter: str, why: str) -> None:
        """Count first, then unlink: a kill in between repeats the drop, never loses it."""
        counters.bump(self.spool.root, {f"dropped.{counter}": 1,
                                        f"dropped_by_exe.{dump.exe_name}": 1})  # fmt: skip
        self.metrics.transition(
            Stage.SENDING if counter == "ratelimit.fingerprint" else Stage.PENDING, "dropped"
        )
        self.spool.path(Stage.PENDING, dump.id).unlink(missing_ok=True)
        self.retention.drop_assets_if_unused(dump.id)
        self.log.warning(f"{dump.id}: dropped: {why}")

    def _step_failed(self, step: Step, dump: dumps.Dump, error: StepFailed) -> None:
        if self.stopping:
            return  # killed by our own shutdown: the dump simply stays where it is
        self.metrics.step_failed(step.name, error.reason)
        retries = self.cfg[step.retries_setting]
        with self._lock:
            attempts = self._attempts[dump.id] = self._attempts.get(dump.id, 0) + 1
        if step.store:
            self._store_backoff()
        if (step.store and retries == 0) or attempts <= retries:
            delay = self._backoff(dump.id)
            self.log.warning(f"{error} (attempt {attempts}; retrying in {delay:.0f}s)")
            return
        self.spool.fail(dump.id, step.source, f"{step.name}: {error.what}")
        with self._lock:
            self._attempts.pop(dump.id, None)
            self._not_before.pop(dump.id, None)
        counters.bump(self.spool.root, {"failed": 1})
        self.metrics.transition(step.source, "failed")
        self.log.error(f"{error}; moved to failed/ after {attempts} attempts")

    def _delay(self, attempts: int) -> float:
        return min(self.cfg["retry.backoff_max"], self.cfg["retry.backoff"] * 2 ** (attempts - 1))

    def _backoff(self, dump_id: str) -> float:
        with self._lock:
            delay = self._delay(self._attempts.get(dump_id, 1))
            self._not_before[dump_id] = time.monotonic() + delay
        return delay

    def _store_backoff(self) -> None:
        with self._lock:
            self._store_failures += 1
            delay = self._delay(self._store_failures)
            self._store_not_before = time.monotonic() + delay

    def _purge(self) -> None:
        removed = self.retention.purge()
        if removed:
            self.log.info(f"purged {len(removed)} old dumps (purge.age / purge.total)")
