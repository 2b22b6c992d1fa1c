"""Build small programs and crash them for real, under the real kernel's core dumping.

Cores are written by the kernel through ``kernel.core_pattern``. The machine default (``core``,
relative) writes ``core`` or ``core.<pid>`` into the crashing process's working directory, which
is all these helpers need: each crash runs in its own directory with ``RLIMIT_CORE`` unlimited.
Tests that change ``kernel.core_pattern`` (the capture pipeline) hold the exclusive lock of
:func:`core_pattern`; plain crashes hold it shared, so the two never interleave, even across
pytest-xdist workers. Every change is restored in ``finally``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import resource
import shutil
import signal
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

PROGRAMS = Path(__file__).parent / "programs"
CORE_PATTERN = Path("/proc/sys/kernel/core_pattern")
_LOCK = Path("/tmp/coresnap-tests-core-pattern.lock")
_BUILD_CACHE = Path(os.environ.get("CORESNAP_TEST_BUILD_CACHE", "/tmp/coresnap-test-builds"))


@dataclass(frozen=True)
class Crash:
    exe: Path
    core: Path
    pid: int
    signal: int
    stdout: str
    stderr: str


def read_core_pattern() -> str:
    return CORE_PATTERN.read_text().rstrip("\n")


@contextlib.contextmanager
def core_pattern(pattern: str | None = None, *, shared: bool = False) -> Iterator[str]:
    """Hold the core_pattern lock; with ``pattern``, set it and restore the old one on exit."""
    _LOCK.touch(exist_ok=True)
    with open(_LOCK) as lock:
        fcntl.flock(lock, fcntl.LOCK_SH if shared and pattern is None else fcntl.LOCK_EX)
        old = read_core_pattern()
        try:
            if pattern is not None and pattern != old:
                CORE_PATTERN.write_text(pattern + "\n")
            yield old
        finally:
            if pattern is not None and read_core_pattern() != old:
                CORE_PATTERN.write_text(old + "\n")


def build(
    source: str | Path,
    *,
    flags: Sequence[str] = ("-g", "-O0"),
    name: str | None = None,
    libs: Sequence[str] = (),
    out_dir: Path | None = None,
) -> Path:
    """Compile ``source`` (a file under tests/programs, or a path) and return the executable.

    Builds are cached by content, path and flags so repeated tests (and xdist workers) share
    them. The path counts: the executable names its source file (DWARF, ``__FILE__``), and a
    build of another checkout's copy would point at files that may be gone.
    """
    src = Path(source)
    if not src.is_absolute() and not src.exists():
        src = PROGRAMS / src
    cxx = src.suffix in (".cc", ".cpp", ".cxx")
    compiler = "g++" if cxx else "gcc"
    args = [*flags, *libs]
    what = "\0".join([str(src.resolve()), compiler, *args]).encode()
    key = hashlib.sha256(src.read_bytes() + what).hexdigest()[:16]
    out = (out_dir or _BUILD_CACHE) / f"{name or src.stem}-{key}"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + f".tmp{os.getpid()}")
        cmd = [compiler, *flags, "-o", str(tmp), str(src), "-pthread", *libs]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        os.replace(tmp, out)
    return out


def _core_limit() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def crash(
    exe: Path,
    args: Sequence[str] = (),
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    stdin: bytes | None = None,
    expect_signal: int | None = None,
) -> Crash:
    """Run ``exe`` in ``cwd`` until it dies of a signal, and return the core the kernel wrote."""
    cwd.mkdir(parents=True, exist_ok=True)
    run_exe = cwd / exe.name
    if not run_exe.exists():
        shutil.copy2(exe, run_exe)
    with core_pattern(shared=True) as pattern:
        if pattern.startswith("|") or "/" in pattern:
            raise RuntimeError(
                f"kernel.core_pattern is {pattern!r}; plain crashes need a relative pattern"
            )
        proc = subprocess.Popen(
            [str(run_exe), *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=_core_limit,
        )
        out, err = proc.communicate(stdin, timeout=timeout)
    if proc.returncode >= 0:
        raise AssertionError(
            f"{exe.name} exited with {proc.returncode}, not a signal\n{out!r}\n{err!r}"
        )
    sig = -proc.returncode
    if expect_signal is not None and sig != expect_signal:
        raise AssertionError(f"{exe.name} died of signal {sig}, expected {expect_signal}")
    for candidate in (cwd / pattern.replace("%p", str(proc.pid)), cwd / f"core.{proc.pid}"):
        if candidate.is_file():
            core = cwd / f"core.{proc.pid}"
            if candidate != core:
                candidate.rename(core)
            return Crash(
                run_exe,
                core,
                proc.pid,
                sig,
                out.decode(errors="replace"),
                err.decode(errors="replace"),
            )
    raise AssertionError(
        f"{exe.name} died of {signal.Signals(sig).name} but no core in {cwd} (pattern {pattern!r})"
    )
