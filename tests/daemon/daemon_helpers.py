"""Run coresnapd for real (a subprocess on a temp dump root) and feed it replayed crashes."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from coresnap.capture import archive, fields

HERE = Path(__file__).resolve().parent
QUICK = f"{sys.executable} {HERE / 'quick_snapshot.py'} %a %S %B"
CORESNAPD = Path(sys.executable).parent / "coresnapd"


def conf(path: Path, root: Path, store: Path, **settings: str) -> Path:
    """A coresnap.conf for tests: quick snapshots, puts that copy into ``store``, fast retries."""
    store.mkdir(parents=True, exist_ok=True)
    values = {
        "dump.root": str(root),
        "dump.quota": "1",
        "log.file": str(path.parent / "coresnapd.log"),
        "snapshot.command": QUICK,
        "put.command": f"cp %S {store}/%B",
        "retry.backoff": "0.2s",
        "retry.backoff_max": "1s",
        "ratelimit.exe": "0",
        "ratelimit.fingerprint": "0",
    }
    values.update({k.replace("__", "."): v for k, v in settings.items()})
    path.write_text("".join(f"{k} = {v}\n" for k, v in values.items()))
    return path


def replay(
    root: Path, core: bytes, pid: int, comm: str = "capture_crash", exe: str = "",
    config: Path | None = None,
) -> int:  # fmt: skip
    """Archive ``core`` as if the kernel had piped it (pid must match the core's notes)."""
    values = {"pid": pid, "ns_pid": pid, "tid": pid, "ns_tid": pid, "signal": 11,
              "time": int(time.time()), "core_limit": fields.RLIM_INFINITY, "hostname": "h",
              "uid": 0, "gid": 0, "dumpable": 1, "comm": comm,
              "exe_path": (exe or f"/opt/{comm}").replace("/", "!")}  # fmt: skip
    options = ["-c", str(config)] if config else []
    argv = [*options, "-r", str(root), *(str(values[f.name]) for f in fields.FIELDS)]
    with open(os.devnull, "w") as null, contextlib.redirect_stderr(null):
        return archive.main(argv, io.BytesIO(core))


@contextlib.contextmanager
def coresnapd(config: Path, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """coresnapd on ``config`` (not -f: step stderr goes into failure reasons); stopped
    (SIGTERM, then SIGKILL) in finally."""
    proc = subprocess.Popen(
        [str(CORESNAPD), "-c", str(config), *extra],
        stdout=subprocess.DEVNULL,
        stderr=open(config.parent / "coresnapd.stderr", "ab"),  # noqa: SIM115
    )
    try:
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for(predicate: Callable[[], bool], timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.05)


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


def cpu_ticks(pid: int) -> int:
    """utime + stime of ``pid`` (all threads), in clock ticks, from /proc/<pid>/stat."""
    fields_ = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields_[11]) + int(fields_[12])
