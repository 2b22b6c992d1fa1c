"""coresnapd's Prometheus metrics, served as text at ``/metrics`` on ``metrics.listen``.

Three sources, read at each scrape (nothing polls; an idle daemon stays idle):

- ``metrics.json`` in the dump root, written by this module (temp file + rename): the crashes
  seen per (boot id, executable, signal) — seed 004's ``coredumps`` — the stage transitions,
  the bytes of cores and snapshots, and the failed attempts by reason. It survives a restart, so
  ``coredumps_total`` keeps counting since boot. The ids of dumps counted but still in pending/
  (or failed/, where ``coresnap retry`` can send them back) are kept there too, so a retry or a
  restart never counts a crash twice.
- ``counters.json`` (:mod:`coresnap.spool.counters`): what the archive tool archived and what
  any limit dropped — the count a limit never loses.
- the stage directories: files and disk bytes now.

The duration histograms live in memory only: they restart empty with the daemon.

Labels are bounded: at most :data:`MAX_EXES` executables (later ones are ``exe="other"``) over
the :data:`MAX_BOOTS` most recent boot ids; reasons, steps and stages are fixed sets.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import tarfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from coresnap.daemon import dump as dumps
from coresnap.errors import StepFailed
from coresnap.spool import counters
from coresnap.spool.assets import read_member
from coresnap.spool.stages import Spool, Stage

STATE_FILE = "metrics.json"
MAX_EXES = 100
MAX_BOOTS = 8
OTHER = "other"
UNKNOWN = "unknown"
STEP_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
PROCESSING_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600)


def boot_id(spool: Spool, dump_id: str) -> str:
    """The boot id the archive tool saved in the dump's assets (``unknown`` without it)."""
    try:
        text = read_member(spool.path(Stage.ASSETS, dump_id), "boot_id", 64).decode().strip()
    except (OSError, tarfile.TarError, KeyError, UnicodeDecodeError):
        return UNKNOWN
    return text if re.fullmatch(r"[0-9a-f-]{1,64}", text) else UNKNOWN


def _signal_name(meta: dict[str, Any]) -> str:
    name = meta.get("signal_name")
    if isinstance(name, str) and re.fullmatch(r"SIG[A-Z0-9+]{1,12}", name):
        return name
    try:
        return signal.Signals(int(meta.get("signal", ""))).name
    except ValueError:
        return UNKNOWN


def _empty() -> dict[str, Any]:
    return {"version": 1, "coredumps": {}, "boots": [], "counted": [], "transitions": {},
            "bytes": {}, "step_failures": {}}  # fmt: skip


class HostMetrics:
    """The metrics of one dump root; the daemon calls the recording methods as dumps move."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self.path = spool.root / STATE_FILE
        self._lock = threading.Lock()
        self._state = self._load()
        self.registry = CollectorRegistry()
        self.step_seconds = Histogram(
            "coresnapd_step_seconds", "Duration of one successful step command (snapshot, put)",
            ["step"], buckets=STEP_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.processing_seconds = Histogram(
            "coresnapd_processing_seconds",
            "From the archive tool publishing a crash to its snapshot committed in the store",
            buckets=PROCESSING_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.registry.register(_Collector(self))

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return _empty()
        state = _empty()
        if isinstance(data, dict) and data.get("version") == 1:
            state.update({k: data[k] for k in state if k in data})
        return state

    def _save(self) -> None:
        temp = self.path.with_name(f".{STATE_FILE}.tmp")  # one writer: the lock holder
        try:
            temp.write_text(json.dumps(self._state, sort_keys=True) + "\n")
            os.rename(temp, self.path)
        except OSError as e:  # metrics never stop the pipeline
            logging.getLogger("coresnapd").warning(f"cannot write {self.path}: {e}")

    def _bump(self, table: str, key: str, n: int = 1) -> None:
        self._state[table][key] = self._state[table].get(key, 0) + n

    def crash(self, dump: dumps.Dump) -> None:
        """Count the crash of ``dump`` once, whatever retries and restarts follow."""
        self._count([dump])

    def count_pending(self) -> None:
        """Count the crashes in pending/ no worker took up yet (at each scrape: a backlog does
        not delay ``coredumps``)."""
        with self._lock:
            counted = set(self._state["counted"])
        new = [i for i in self.spool.ids(Stage.PENDING) if i not in counted]
        if new:
            self._count([dumps.load(self.spool, i) for i in new])

    def _count(self, found: list[dumps.Dump]) -> None:
        with self._lock:
            counted = set(self._state["counted"])
            before = len(counted)
            for dump in found:
                # Gone from pending/: already processed (a scrape's listing can be stale).
                if dump.id in counted or not self.spool.path(Stage.PENDING, dump.id).exists():
                    continue
                boot = boot_id(self.spool, dump.id)
                self._remember_boot(boot)
                exe = self._exe_label(dump.exe or UNKNOWN)
                self._bump("coredumps", "\t".join((boot, exe, _signal_name(dump.meta))))
                counted.add(dump.id)
            if len(counted) == before:
                return
            waiting = set(self.spool.ids(Stage.PENDING)) | set(self.spool.ids(Stage.FAILED))
            self._state["counted"] = sorted(counted & waiting)
            self._save()

    def _remember_boot(self, boot: str) -> None:
        boots: list[str] = self._state["boots"]
        if boot in boots:
            return
        boots.append(boot)
        if len(boots) > MAX_BOOTS:
            old = boots.pop(0)
            self._state["coredumps"] = {
                k: v for k, v in self._state["coredumps"].items() if k.split("\t")[0] != old
            }

    def _exe_label(self, exe: str) -> str:
        known = {k.split("\t")[1] for k in self._state["coredumps"]} - {OTHER}
        return exe if exe in known or len(known) < MAX_EXES else OTHER

    def snapshot_made(self, dump_id: str, seconds: float) -> None:
        """``pending → sending``: the core and snapshot sizes, the step's duration."""
        core = _size(self.spool.path(Stage.PENDING, dump_id))
        snap = _size(self.spool.path(Stage.SENDING, dump_id))
        self.step_seconds.labels(step="snapshot").observe(seconds)
        with self._lock:
            self._bump("transitions", "pending\tsending")
            self._bump("bytes", "core", core)
            self._bump("bytes", "snapshot", snap)
            self._save()

    def committed(self, dump: dumps.Dump, seconds: float) -> None:
        """``sending → committed``: the put's duration and the crash's whole way through."""
        self.step_seconds.labels(step="put").observe(seconds)
        started = dump.meta.get("archived_at")
        if isinstance(started, int | float):
            self.processing_seconds.observe(max(0.0, time.time() - started))
        self.transition(Stage.SENDING, "committed")

    def transition(self, source: Stage, target: str) -> None:
        """Count one move from ``source`` to ``target`` (a stage name, or ``dropped``)."""
        with self._lock:
            self._bump("transitions", f"{source.value}\t{target}")
            self._save()

    def step_failed(self, step: str, reason: str) -> None:
        """Count one failed attempt of ``step`` (retried or not) by its reason
        (:attr:`StepFailed.REASONS`)."""
        with self._lock:
            self._bump("step_failures", f"{step}\t{reason}")
            self._save()

    def snapshot(self) -> dict[str, Any]:
        """A copy of the persisted state (for the collector)."""
        with self._lock:
            return json.loads(json.dumps(self._state))

    def serve(self, listen: tuple[str, int] | None, log: logging.Logger) -> MetricsServer | None:
        """Serve ``/metrics`` on ``listen``; None when off or unavailable (a busy port is
        logged: the pipeline matters more than its metrics)."""
        return None if listen is None else MetricsServer.serving(listen, self.registry, log)


class MetricsServer:
    """An HTTP server thread answering ``GET /metrics`` (and ``/``) with the registry's text.

    It blocks in accept() between requests (no polling: an idle daemon uses no CPU) and
    :meth:`close` wakes it with one connection after raising the stop flag.
    """

    def __init__(self, listen: tuple[str, int], registry: CollectorRegistry) -> None:
        self._http = _server(listen, registry)
        self._http.timeout = None
        self._stopping = False
        host, port = self._http.server_address[:2]
        self.address = (str(host), int(port))
        self.url = f"http://{_url_host(self.address[0])}:{port}/metrics"
        self._thread = threading.Thread(target=self._loop, name="metrics", daemon=True)
        self._thread.start()

    @classmethod
    def serving(
        cls, listen: tuple[str, int], registry: CollectorRegistry, log: logging.Logger
    ) -> MetricsServer | None:
        """A server of ``registry`` on ``listen``, or None (logged) when the address cannot
        be bound: what it serves matters more than its metrics."""
        try:
            server = cls(listen, registry)
        except OSError as e:
            log.warning(f"metrics.listen {listen[0]}:{listen[1]}: {e.strerror or e}; no metrics")
            return None
        log.info(f"metrics on {server.url}")
        return server

    def _loop(self) -> None:
        while not self._stopping:
            self._http.handle_request()

    def close(self) -> None:
        self._stopping = True
        try:
            socket.create_connection(self.address, timeout=1).close()
        except OSError:
            pass
        self._thread.join(5)
        self._http.server_close()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _server(listen: tuple[str, int], registry: CollectorRegistry) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path.split("?")[0] not in ("/", "/metrics"):
                self.send_error(404, "only /metrics here")
                return
            body = generate_latest(registry)
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet scrapes
            pass

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in listen[0] else socket.AF_INET
        daemon_threads = True

    return Server(listen, Handler)


class _Collector(Collector):
    """Families built at scrape time from the three sources of the module doc."""

    def __init__(self, metrics: HostMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        self.metrics.count_pending()
        state = self.metrics.snapshot()
        yield from _coredumps(state)
        yield from _pipeline(state)
        yield from _counted(counters.read(self.metrics.spool.root))
        yield from _spool(self.metrics.spool)


def _coredumps(state: dict[str, Any]) -> Iterator[Metric]:
    # Gauges named as seed 004's exporter has them (its users' queries keep working).
    total = GaugeMetricFamily(
        "coredumps_total", "Crashes seen per kernel boot id", labels=["boot_id"]
    )
    each = GaugeMetricFamily(
        "coredumps",
        f"Crashes seen per boot id, executable (at most {MAX_EXES}, then 'other') and signal",
        labels=["boot_id", "exe", "signal_name"],
    )
    per_boot: dict[str, int] = {}
    for key, n in sorted(state["coredumps"].items()):
        boot, exe, sig = key.split("\t")
        each.add_metric([boot, exe, sig], n)
        per_boot[boot] = per_boot.get(boot, 0) + n
    for boot, n in per_boot.items():
        total.add_metric([boot], n)
    yield total
    yield each


_BYTES = {
    "core": "Bytes (apparent size) of the cores whose snapshot was made",
    "snapshot": "Bytes of the snapshots made",
}


def _pipeline(state: dict[str, Any]) -> Iterator[Metric]:
    moves = CounterMetricFamily(
        "coresnapd_transitions",
        "Dumps moved from stage 'source' to 'target' (sending, committed, failed, dropped)",
        labels=["source", "target"],
    )
    for key, n in sorted(state["transitions"].items()):
        moves.add_metric(key.split("\t"), n)
    yield moves
    for kind, doc in _BYTES.items():
        c = CounterMetricFamily(f"coresnapd_{kind}_bytes", doc)
        c.add_metric([], state["bytes"].get(kind, 0))
        yield c
    failures = CounterMetricFamily(
        "coresnapd_step_failures",
        "Failed step attempts (retried or not) by step and reason: "
        + ", ".join(StepFailed.REASONS),
        labels=["step", "reason"],
    )  # fmt: skip
    for key, n in sorted(state["step_failures"].items()):
        failures.add_metric(key.split("\t"), n)
    yield failures


def _counted(values: dict[str, int]) -> Iterator[Metric]:
    archived = CounterMetricFamily(
        "coresnapd_archived", "Crashes the archive tool put in pending/ (counters.json)"
    )
    archived.add_metric([], values.get("archived", 0))
    yield archived
    dropped = CounterMetricFamily(
        "coresnapd_dropped",
        "Crashes dropped by a limit or an error, by reason (counters.json dropped.<reason>)",
        labels=["reason"],
    )
    for key, n in sorted(values.items()):
        if key.startswith("dropped."):
            dropped.add_metric([key.removeprefix("dropped.")], n)
    yield dropped


def _spool(spool: Spool) -> Iterator[Metric]:
    files = GaugeMetricFamily(
        "coresnapd_spool_files", "Files in each stage directory now", labels=["stage"]
    )
    size = GaugeMetricFamily(
        "coresnapd_spool_bytes",
        "Disk bytes (allocated blocks) used by each stage now",
        labels=["stage"],
    )
    for stage in Stage:
        n = used = 0
        try:
            entries = list(os.scandir(spool.dir(stage)))
        except FileNotFoundError:
            entries = []
        for entry in entries:
            try:
                used += entry.stat(follow_symlinks=False).st_blocks * 512
            except FileNotFoundError:
                continue
            n += 1
        files.add_metric([stage.value], n)
        size.add_metric([stage.value], used)
    yield files
    yield size
