"""Snapshot vs gdb vs eu-stack on the same real cores; snapshot size vs core size.

Cores: a small single-threaded crash, a 64-thread process, a process with a 2 GiB dense heap.
For each, in one bench run: ``coresnap snapshot`` (CLI, as the daemon runs it, with and without
``--isolate``, analysis included), ``gdb -batch -ex 'thread apply all bt full'`` and
``eu-stack -v``; each five times, the tools taking turns (so that a burst of load on a shared
machine hits them alike), the best time reported and the median shown beside it (warm page cache
and bytecode for all). Targets (issue 3): no slower than gdb's ``bt full``; under 32 KiB for the
small crash; under 0.1 % of the core for cores over 500 MB.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.crashes import build, crash

CASES = (
    ("small", "snap_basic.c", ()),
    ("threads64", "snap_threads.c", ()),
    ("heap2g", "snap_bigheap.c", ("2048",)),
)


@dataclass
class Row:
    case: str
    core_size: int
    snap_size: int
    snap_s: float
    isolated_s: float
    gdb_s: float
    eu_s: float
    snap_median: float
    gdb_median: float


RUNS = 5  # each tool runs this many times on each core, in turns; the best time is reported


def _env(work: Path) -> dict[str, str]:
    # An installed coresnap has compiled bytecode; this environment may forbid writing it
    # (PYTHONDONTWRITEBYTECODE), which would charge every run for compiling ~200 modules.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    return env


def _run(cmd: list[str], env: dict[str, str] | None) -> float:
    started = time.monotonic()
    done = subprocess.run(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=1800, env=env
    )
    took = time.monotonic() - started
    if done.returncode != 0 and "eu-stack" not in cmd[0]:
        raise RuntimeError(f"{cmd[0]} failed: {done.stderr.decode(errors='replace')[-300:]}")
    return took


def _timed(tools: dict[str, tuple[list[str], dict[str, str] | None]]) -> dict[str, list[float]]:
    """Wall times of RUNS runs of each tool, the tools taking turns within each round."""
    times: dict[str, list[float]] = {name: [] for name in tools}
    for _ in range(RUNS):
        for name, (cmd, env) in tools.items():
            times[name].append(_run(cmd, env))
    return times


def measure(case: str, source: str, args: tuple[str, ...], work: Path) -> Row:
    exe = build(source, flags=("-g", "-O0"))
    result = crash(exe, args, cwd=work / case, timeout=900)
    os.sync()  # the kernel just wrote the core: do not charge its writeback to the first tool
    core, exe = str(result.core), str(result.exe)
    out = work / f"{case}.snap"
    snapshot = [sys.executable, "-m", "coresnap.cli.coresnap", "snapshot", core, exe]
    env = _env(work)
    try:
        t = _timed(
            {
                "snap": ([*snapshot, "-o", str(out)], env),
                "isolated": ([*snapshot, "-o", str(out) + ".iso", "--isolate"], env),
                "gdb": (
                    ["gdb", "-batch", "-nx", "-ex", "thread apply all bt full", exe, core],
                    None,
                ),
                "eu": (["eu-stack", "-v", f"--core={core}", f"--executable={exe}"], None),
            }
        )
        return Row(
            case,
            result.core.stat().st_size,
            snap_size=0,
            snap_s=min(t["snap"]),
            isolated_s=min(t["isolated"]),
            gdb_s=min(t["gdb"]),
            eu_s=min(t["eu"]),
            snap_median=statistics.median(t["snap"]),
            gdb_median=statistics.median(t["gdb"]),
        )
    finally:
        result.core.unlink(missing_ok=True)


def main() -> None:
    load_before = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory(prefix="coresnap-bench-") as tmp:
        work = Path(tmp)
        for case, source, args in CASES:
            row = measure(case, source, args, work)
            row.snap_size = (work / f"{case}.snap").stat().st_size
            rows.append(row)
    head = f"{'case':<10} {'core':>12} {'snapshot':>9} {'size %':>9} "
    head += f"{'snap s':>7} {'isolated':>8} {'gdb btf':>8} {'eu-stack':>8} {'gdb/snap':>8} {'eu/snap':>8}"
    head += f" {'snap med':>8} {'gdb med':>8}"
    print(
        f"{RUNS} runs each, best time (medians at the right); load average {load_before:.1f} "
        f"before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs"
    )
    print(head)
    for r in rows:
        print(
            f"{r.case:<10} {r.core_size:>12} {r.snap_size:>9} "
            f"{100 * r.snap_size / r.core_size:>8.4f}% {r.snap_s:>7.2f} {r.isolated_s:>8.2f} "
            f"{r.gdb_s:>8.2f} {r.eu_s:>8.2f} {r.gdb_s / r.snap_s:>7.2f}x {r.eu_s / r.snap_s:>7.2f}x"
            f" {r.snap_median:>8.2f} {r.gdb_median:>8.2f}"
        )
    small = next(r for r in rows if r.case == "small")
    big = [r for r in rows if r.core_size > 500e6]
    print(f"target small < 32 KiB: {'ok' if small.snap_size < 32 * 1024 else 'MISSED'}")
    for r in big:
        ok = r.snap_size < r.core_size / 1000
        print(f"target {r.case} < 0.1 % of core: {'ok' if ok else 'MISSED'}")
    slower = [r.case for r in rows if r.snap_s > r.gdb_s]
    print(
        f"target no slower than gdb bt full: {'ok' if not slower else 'MISSED on ' + ', '.join(slower)}"
    )


if __name__ == "__main__":
    main()
