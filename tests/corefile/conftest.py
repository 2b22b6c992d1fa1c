"""Real crashes shared by the core reader's tests: each program is built and crashed once per
session (per xdist worker), under the real kernel."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from crashes import Crash, build, crash


def _m32_works(tmp: Path) -> str | None:
    """None when ``gcc -m32 -pthread`` links a program here, else why not."""
    src = tmp / "m32.c"
    src.write_text("int main(void) { return 0; }\n")
    proc = subprocess.run(
        ["gcc", "-m32", "-pthread", "-o", str(tmp / "m32"), str(src)],
        capture_output=True,
        text=True,
    )
    return None if proc.returncode == 0 else f"gcc -m32 cannot link: {proc.stderr.strip()[:200]}"


@pytest.fixture(scope="session")
def crash_of(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Crash]:
    """``crash_of(source, flags, signal)``: the (cached) crash of a tests/programs source."""
    cache: dict[tuple[str, tuple[str, ...]], Crash] = {}
    root = tmp_path_factory.mktemp("corefile-crashes")

    def get(source: str, flags: tuple[str, ...] = ("-g", "-O0"), sig: int = 11) -> Crash:
        key = (source, flags)
        if key not in cache:
            exe = build(source, flags=flags)
            run_dir = root / f"{Path(source).stem}-{len(cache)}"
            cache[key] = crash(exe, cwd=run_dir, expect_signal=sig)
        return cache[key]

    return get


@pytest.fixture(scope="session")
def null_crash(crash_of: Callable[..., Crash]) -> Crash:
    return crash_of("core_null.c")


@pytest.fixture(scope="session")
def threads_crash(crash_of: Callable[..., Crash]) -> Crash:
    return crash_of("core_threads.c", ("-g", "-O2"))


@pytest.fixture(scope="session")
def m32_crash(crash_of: Callable[..., Crash], tmp_path_factory: pytest.TempPathFactory) -> Crash:
    why = _m32_works(tmp_path_factory.mktemp("m32"))
    if why:
        pytest.skip(why)
    return crash_of("core_null.c", ("-g", "-O0", "-m32"))


SIGNALS = {
    "core_abort.c": signal.SIGABRT,
    "core_fpe.c": signal.SIGFPE,
    "core_killed.c": signal.SIGSEGV,
}
