"""Real crashes shared by the core reader's tests: each program is built and crashed once per
session (per xdist worker), under the real kernel."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.corefile.corpus_report import REPORT_DIR, RUN_ENV
from tests.crashes import Crash, build, crash


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


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the corpus conformance table (per OS/arch: matched / mismatched / n/a)."""
    import json

    rows = [
        json.loads(line)
        for f in sorted(REPORT_DIR.glob(f"{os.environ.get(RUN_ENV, 'run')}.*.jsonl"))
        for line in f.read_text().splitlines()
    ] if REPORT_DIR.is_dir() else []  # fmt: skip
    if not rows:
        return
    table: dict[tuple[str, str], dict[str, int]] = {}
    for r in rows:
        counts = table.setdefault((r["os"], r["arch"]), {})
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    cols = ("match", "explained", "mismatch", "unchecked", "n/a", "observed-match")
    heads = ("match", "explained", "mismatch", "unchecked", "n/a", "readelf-ok")
    lines = [f"{'os/arch':<22}" + "".join(f"{c:>11}" for c in heads) + f"{'cores':>8}"]
    total = dict.fromkeys(cols, 0)
    for (os_name, arch), counts in sorted(table.items()):
        lines.append(
            f"{os_name + '/' + arch:<22}"
            + "".join(f"{counts.get(c, 0):>11}" for c in cols)
            + f"{counts.get('timing', 0):>8}"
        )
        for c in cols:
            total[c] += counts.get(c, 0)
    lines.append(f"{'total':<22}" + "".join(f"{total[c]:>11}" for c in cols))
    slowest = max((r for r in rows if r["status"] == "timing"), key=lambda r: r["seconds"])
    lines.append(f"slowest core: {slowest['fact']} {slowest['seconds']:.2f} s")
    (REPORT_DIR / "report.txt").write_text("\n".join(lines) + "\n")
    for f in REPORT_DIR.glob("*.jsonl"):
        if not f.name.startswith(os.environ.get(RUN_ENV, "run") + "."):
            f.unlink(missing_ok=True)  # earlier runs
    terminalreporter.write_sep("=", "corpus conformance of the core reader")
    for line in lines:
        terminalreporter.write_line(line)
