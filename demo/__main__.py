"""`make run`: build and crash the demo programs for real, then read their cores with coresnap."""

from __future__ import annotations

import fcntl
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from coresnap.cli.coresnap import main as coresnap_main
from demo import pipeline

PROGRAMS = Path(__file__).parent / "programs"
_LOCK = Path("/tmp/coresnap-tests-core-pattern.lock")
DEMOS = [
    ("simple", "simple.c", ["-g", "-O0"]),
    ("mt_null", "mt_null.c", ["-g", "-O2"]),
]


def _unlimited_core() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def crash(workdir: Path, name: str, source: str, flags: list[str]) -> Path:
    exe = workdir / name
    subprocess.run(["gcc", *flags, "-pthread", "-o", str(exe), str(PROGRAMS / source)], check=True)
    # Share the test suite's core_pattern lock (tests/crashes.py), so a test that points
    # kernel.core_pattern at a pipe for a while never takes the demo's core.
    _LOCK.touch(exist_ok=True)
    with open(_LOCK) as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)
        proc = subprocess.Popen(
            [str(exe)],
            cwd=workdir,
            preexec_fn=_unlimited_core,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            sys.exit(f"demo: {name} did not crash within 60 s")
    if proc.returncode >= 0:
        sys.exit(f"demo: {name} did not crash (exit {proc.returncode})")
    for core in (workdir / "core", workdir / f"core.{proc.pid}"):
        if core.exists():
            return core.rename(workdir / f"{name}.core")
    pattern = Path("/proc/sys/kernel/core_pattern").read_text().strip()
    sys.exit(f"demo: {name} crashed but left no core (kernel.core_pattern = {pattern!r})")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="coresnap-demo-") as tmp:
        workdir = Path(tmp)
        for number, (name, source, flags) in enumerate(DEMOS):
            core = crash(workdir, name, source, flags)
            if number == 0:  # one core read directly; then the host pipeline handles them all
                print(
                    f"\n=== {name}: {core.stat().st_size} byte core from the kernel ===", flush=True
                )
                rc = coresnap_main(["inspect", str(core)])
                if rc:
                    return rc
        return pipeline.run([workdir / name for name, _source, _flags in DEMOS])


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
