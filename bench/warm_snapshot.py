"""The snapshot step inside coresnapd, per crash: the warm worker (a fork of a process with
everything loaded, as coresnapd runs ``coresnap snapshot ... --isolate``) against gdb's
``thread apply all bt full`` and against the one-shot ``coresnap snapshot --isolate`` it replaces,
on a small, a 64-thread and a 2 GiB core. The tools take turns, RUNS times each; the best time is
compared and the median shown."""

from __future__ import annotations

import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._capture import crashes, load_average
from coresnap.daemon.warm import WarmWorker

CASES = (
    ("small", "snap_basic.c", ()),
    ("threads64", "snap_threads.c", ()),
    ("heap2g", "snap_bigheap.c", (os.environ.get("CORESNAP_BENCH_BIG_CORE_MIB", "2048"),)),
)
RUNS = 5
GOAL = 0.5


def _timed(cmd: list[str]) -> float:
    started = time.monotonic()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {done.stderr.decode(errors='replace')[-300:]}")
    return time.monotonic() - started


def _warm(worker: WarmWorker, core: str, exe: str, out: str) -> float:
    started = time.monotonic()
    outcome = worker.snapshot([core, exe, "-o", out, "--isolate"], 1800, 4 << 30)
    if outcome.returncode != 0:
        raise RuntimeError(f"warm snapshot failed: {outcome.stderr[-300:]}")
    return time.monotonic() - started


def measure(worker: WarmWorker, source: str, args: tuple[str, ...], work: Path) -> dict:
    result = crashes.crash(crashes.build(source), args, cwd=work, timeout=900)
    os.sync()
    core, exe, out = str(result.core), str(result.exe), str(work / "s.snap")
    cli = [sys.executable, "-m", "coresnap.cli.coresnap", "snapshot", core, exe, "-o", out]
    gdb = ["gdb", "-batch", "-nx", "-ex", "thread apply all bt full", exe, core]
    times: dict[str, list[float]] = {"warm": [], "gdb": [], "cli": []}
    try:
        for _ in range(RUNS):
            times["warm"].append(_warm(worker, core, exe, out))
            times["gdb"].append(_timed(gdb))
            times["cli"].append(_timed([*cli, "--isolate"]))
    finally:
        result.core.unlink(missing_ok=True)
    return times


def main() -> None:
    load = load_average()
    worker = WarmWorker(logging.getLogger("bench"))
    worker.start()
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="coresnap-bench-warm-") as tmp:
            for case, source, args in CASES:
                rows.append((case, measure(worker, source, args, Path(tmp) / case)))
    finally:
        worker.close()
    print(f"   {RUNS} runs each in turns, best (median) s; load average {load} before, "
          f"{load_average()} after, on {os.cpu_count()} CPUs")  # fmt: skip
    print(f"   {'case':<10} {'warm':>13} {'gdb bt full':>13} {'cli --isolate':>13} "
          f"{'warm/gdb':>9} {'cli/gdb':>8}")  # fmt: skip
    missed = []
    for case, t in rows:
        cells = " ".join(f"{min(t[k]):6.2f} ({statistics.median(t[k]):4.2f})"
                         for k in ("warm", "gdb", "cli"))  # fmt: skip
        ratio = min(t["warm"]) / min(t["gdb"])
        missed += [case] if ratio > GOAL else []
        print(f"   {case:<10} {cells} {ratio:>9.2f} {min(t['cli']) / min(t['gdb']):>8.2f}")
    print(f"   goal warm/gdb <= {GOAL}: {'ok' if not missed else 'MISSED on ' + ', '.join(missed)}")


if __name__ == "__main__":
    main()
