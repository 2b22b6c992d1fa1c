"""``coresnap inspect`` on a 2 GiB kernel core, next to ``eu-readelf -n`` and ``readelf -lW``.

The core reader must not read segments into memory: the time and peak RSS to inspect a core
should not grow with the size of its dumped memory. One real crash of a program that writes
every page of 2 GiB, then one timed run of each command (wall time, peak RSS of the child).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from coresnap.corefile import open_core
from coresnap.corefile.summary import summarize
from tests.crashes import build, crash

MIB = int(os.environ.get("CORESNAP_BENCH_BIG_CORE_MIB", "2048"))


def _run(cmd: list[str]) -> tuple[float, int]:
    """(wall seconds, peak RSS in KiB) of ``cmd``; raises if it fails."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise RuntimeError(f"{cmd[0]} exited {proc.returncode}: {err[-300:]}")
    return elapsed, usage.ru_maxrss


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="coresnap-bench-bigcore-") as tmp:
        exe = build("core_big.c", flags=("-g", "-O0"))
        started = time.monotonic()
        result = crash(exe, [str(MIB)], cwd=Path(tmp), timeout=900)
        dumped = time.monotonic() - started
        size = result.core.stat().st_size
        print(f"   core: {size / 2**30:.2f} GiB, written by the kernel in {dumped:.1f} s")
        core = str(result.core)
        coresnap = [sys.executable, "-m", "coresnap.cli.coresnap", "inspect"]
        rows = [
            ("coresnap --version", [*coresnap[:-1], "--version"]),
            ("coresnap inspect", [*coresnap, core]),
            ("coresnap inspect --json", [*coresnap, "--json", core]),
            ("eu-readelf -n", ["eu-readelf", "-n", core]),
            ("readelf -lW", ["readelf", "-lW", core]),
        ]
        times = {}
        for name, cmd in rows:
            _run(cmd)  # warm the page cache for the headers and notes alike
            elapsed, rss = _run(cmd)
            times[name] = elapsed
            print(f"   {name:<26} {elapsed:7.3f} s   peak RSS {rss / 1024:6.1f} MiB")
        started = time.monotonic()
        with open_core(core) as opened:
            summarize(opened)
        in_process = time.monotonic() - started
        print(f"   {'open_core + summarize':<26} {in_process:7.3f} s   (in process, no start-up)")
        startup = times["coresnap --version"]
        print(
            f"   inspect beyond CLI start-up: {times['coresnap inspect'] - startup:.3f} s; "
            f"eu-readelf -n: {times['eu-readelf -n']:.3f} s (RSS includes the forked parent)"
        )


if __name__ == "__main__":
    main()
