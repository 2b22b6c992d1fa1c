"""The sender thread: claims due outbox rows, delivers them, records the result.

Claiming is a short write transaction that moves the rows' ``next_attempt`` a lease ahead and
counts the attempt: another sender (another coronerd on the same database) skips them
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has one writer), and a sender killed
mid-delivery leaves rows that become due again when the lease ends, so pending rows are sent
after a restart (at least once). Messages of one target and group go out in order: a row waits
while an older row of the same target and group is pending (a JIRA comment needs its issue).

After an attempt: ``sent``; or ``pending`` again after ``retry_base * 2**(attempts-1)`` seconds
(at most ``retry_max``); or ``failed`` with ``last_error`` after ``max_attempts``, or at once
when the receiver refused the message for good (a 4xx, an SMTP 5xx).

Claimed rows are delivered by a pool of WORKERS threads, one job per target; a target with a
job running is not claimed again until it ends, so a receiver that hangs holds one thread
(one timeout per message) and the other targets' messages go on through the others. When an
attempt on a target fails and will be retried, the target's other claimed rows are put back
untried (their attempt uncounted) for the same backoff: a receiver that is down gets one
connection at a time, not one per message.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from sqlalchemy import Engine, and_, delete, exists, select, update

from coresnap.errors import DeliveryFailed
from coresnap.store.alerts import metrics
from coresnap.store.alerts.kinds import senders
from coresnap.store.alerts.kinds.outgoing import Outgoing
from coresnap.store.config import StoreConfig
from coresnap.store.db.engine import writing
from coresnap.store.db.models import alert_deliveries, alert_targets

log = logging.getLogger("coronerd")
POLL = 0.5
BATCH = 16
WORKERS = 4
PRUNE_EVERY = 3600.0  # seconds between two prunings of the outbox's history


def backoff(config: StoreConfig, attempts: int) -> float:
    """Seconds before attempt ``attempts + 1``."""
    base, cap = config["alerting.retry_base"], config["alerting.retry_max"]
    return float(min(cap, base * 2 ** max(0, attempts - 1)))


class Sender:
    """Delivers the outbox of one database; ``start()``/``stop()`` run it in a thread."""

    def __init__(self, engine: Engine, config: StoreConfig, poll: float = POLL) -> None:
        self.engine = engine
        self.config = config
        self.poll = poll
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._send = senders()
        self._pool = ThreadPoolExecutor(WORKERS, "alerts")
        self._busy: set[int] = set()  # targets with a job in the pool
        self._lock = threading.Lock()

    @property
    def lease(self) -> float:
        """How long claimed rows are ours: a batch timing out row after row, twice, and a margin."""
        return float(BATCH * self.config["alerting.timeout"] * 2 + 60)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="alerts", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def prune(self, now: float | None = None) -> int:
        """Delete sent and failed deliveries older than ``alerting.keep_days``; pending rows stay
        whatever their age. Returns how many rows went."""
        days = self.config["alerting.keep_days"]
        if days <= 0:
            return 0
        cutoff = (time.time() if now is None else now) - days * 86400.0
        old = delete(alert_deliveries).where(
            alert_deliveries.c.state.in_(("sent", "failed")), alert_deliveries.c.created < cutoff
        )
        with writing(self.engine.connect()) as conn, conn.begin():
            return int(conn.execute(old).rowcount or 0)

    def _loop(self) -> None:
        pruned = 0.0
        while not self._stop.is_set():
            if time.monotonic() - pruned > PRUNE_EVERY:
                pruned = time.monotonic()
                try:
                    gone = self.prune()
                except Exception:  # pruning is housekeeping: never stop alerting for it
                    log.exception("alerts: pruning the outbox failed")
                else:
                    if gone:
                        log.info("alerts: pruned %d old deliveries", gone)
            try:
                busy = self.run_once()
            except Exception:  # a database hiccup must not end alerting: log, wait, go on
                log.exception("alerts: sender pass failed")
                busy = 0
            if not busy:
                self._stop.wait(self.poll)

    def run_once(self, wait_done: bool = False) -> int:
        """Claim due rows of targets without a running job and start one job per target;
        returns how many rows were claimed. ``wait_done``: return when the jobs have ended."""
        with self._lock:
            busy = set(self._busy)
        if len(busy) >= WORKERS:
            return 0
        rows = self.claim(exclude=busy)
        by_target: dict[int, list[Any]] = defaultdict(list)
        for row in rows:
            by_target[row.target_id].append(row)
        jobs: list[Future[None]] = []
        for target, mine in by_target.items():
            with self._lock:
                self._busy.add(target)
            jobs.append(self._pool.submit(self._deliver_all, target, mine))
        if wait_done:
            wait(jobs)
        return len(rows)

    def _deliver_all(self, target: int, rows: list[Any]) -> None:
        """Deliver one target's rows in order; after a failure to retry, put the rest back."""
        try:
            for i, row in enumerate(rows):
                if self._stop.is_set():
                    return  # the rest become due again when their lease ends
                if not self.deliver(row):
                    self._put_back(rows[i + 1 :], row)
                    return
        except Exception:  # the database failed us: the rows come back when their lease ends
            log.exception("alerts: delivering to target %d failed", target)
        finally:
            with self._lock:
                self._busy.discard(target)

    def _put_back(self, rows: list[Any], failed: Any) -> None:
        if not rows:
            return
        d = alert_deliveries
        wait = time.time() + backoff(self.config, failed.attempts)
        with writing(self.engine.connect()) as conn, conn.begin():
            conn.execute(
                update(d)
                .where(d.c.id.in_([r.id for r in rows]))
                .values(attempts=d.c.attempts - 1, next_attempt=wait)
            )

    def _due(self, now: float) -> Any:
        d = alert_deliveries
        older = alert_deliveries.alias("older")
        waiting = exists().where(
            and_(
                older.c.target_id == d.c.target_id,
                older.c.group_id == d.c.group_id,
                older.c.state == "pending",
                older.c.id < d.c.id,
            )
        )
        return and_(d.c.state == "pending", d.c.next_attempt <= now, ~waiting)

    def claim(self, exclude: set[int] | None = None) -> list[Any]:
        """Due rows (with their targets) of targets not in ``exclude``, leased to this sender
        and their attempt counted."""
        d, t = alert_deliveries, alert_targets
        now = time.time()
        due = self._due(now)
        if exclude:
            due = and_(due, d.c.target_id.not_in(sorted(exclude)))
        with self.engine.connect() as conn:  # a cheap read first: no write lock when idle
            if conn.execute(select(d.c.id).where(due).limit(1)).first() is None:
                return []
        with writing(self.engine.connect()) as conn, conn.begin():
            q = select(d.c.id).where(due).order_by(d.c.next_attempt).limit(BATCH)
            if conn.dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True, of=d)
            ids = list(conn.execute(q).scalars())
            if not ids:
                return []
            conn.execute(
                update(d)
                .where(d.c.id.in_(ids))
                .values(attempts=d.c.attempts + 1, next_attempt=now + self.lease)
            )
            q2 = (
                select(d, t.c.name, t.c.kind, t.c.settings, t.c.enabled)
                .join(t, t.c.id == d.c.target_id)
                .where(d.c.id.in_(ids))
                .order_by(d.c.id)
            )
            return list(conn.execute(q2).all())

    def deliver(self, row: Any) -> bool:
        """Send one claimed row and record what happened; False if it is to be retried."""
        if not row.enabled:
            self._finish(row, "failed", "target disabled")
            return True
        out = Outgoing(
            delivery=row.id,
            target_id=row.target_id,
            target=row.name,
            kind=row.kind,
            settings=json.loads(row.settings),
            group_id=row.group_id,
            payload=json.loads(row.payload),
            timeout=float(self.config["alerting.timeout"]),
            engine=self.engine,
        )
        try:
            self._send[row.kind](out)
        except DeliveryFailed as e:
            return self._failed(row, str(e), e.retry)
        except Exception as e:  # a bug in a sender must not stop the others: keep the reason
            log.exception("alerts: delivery %d to %s failed", row.id, row.name)
            return self._failed(row, f"{type(e).__name__}: {e}"[:500], True)
        self._finish(row, "sent", None)
        return True

    def _failed(self, row: Any, error: str, retry: bool) -> bool:
        if retry and row.attempts < self.config["alerting.max_attempts"]:
            wait = backoff(self.config, row.attempts)
            log.warning("alerts: %s to %s: %s (retry in %g s)", row.event, row.name, error, wait)
            self._finish(row, "pending", error, time.time() + wait)
            return False
        log.warning("alerts: %s to %s failed for good: %s", row.event, row.name, error)
        self._finish(row, "failed", error)
        return True

    def _finish(
        self, row: Any, state: str, error: str | None, next_attempt: float | None = None
    ) -> None:
        now = time.time()
        values: dict[str, Any] = {"state": state, "last_error": error}
        if state == "sent":
            values["sent_at"] = now
        if next_attempt is not None:
            values["next_attempt"] = next_attempt
        with writing(self.engine.connect()) as conn, conn.begin():
            conn.execute(
                update(alert_deliveries).where(alert_deliveries.c.id == row.id).values(**values)
            )
        metrics.count(row.kind, "retry" if state == "pending" else state)
