"""coresnap list / info / retry / gdb / purge on a dump root in known states."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import crashes
import pytest
from daemon_helpers import names, replay

from coresnap.cli.coresnap import main as coresnap_main
from coresnap.spool import counters
from coresnap.spool.inventory import human_size
from coresnap.spool.stages import Spool, Stage

LINE = re.compile(
    r"^ *(pending|sending|committed|failed)/[0-9a-f]{12}\.\.\. [c-][s-][a-] (\S+) +"
    r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} +\d+\.\d\d[kmg]?B$"
)


@pytest.fixture(scope="module")
def crash(tmp_path_factory: pytest.TempPathFactory) -> crashes.Crash:
    exe = crashes.build("capture_crash.c")
    return crashes.crash(exe, ["segv"], cwd=tmp_path_factory.mktemp("cli"))


@pytest.fixture
def root(tmp_path: Path, crash: crashes.Crash) -> Path:
    """Four dumps: pending, sending (core purged), committed with kept core, failed."""
    root = tmp_path / "root"
    for _ in range(4):
        assert replay(root, crash.core.read_bytes(), crash.pid, exe=str(crash.exe)) == 0
    spool = Spool(root)
    pending, sending, committed, failed = spool.ids(Stage.PENDING)
    for dump_id in (sending, committed):
        (root / "sending" / dump_id).write_bytes(b"snapshot bytes")
    (root / "pending" / sending).unlink()
    spool.advance(committed, Stage.PENDING, Stage.COMMITTED, dst_suffix=".core")
    spool.advance(committed, Stage.SENDING, Stage.COMMITTED)
    spool.fail(failed, Stage.PENDING, "snapshot: exit status 3: broken")
    counters.bump(root, {"dropped.ratelimit.exe": 7})
    (root / "ids").write_text(" ".join([pending, sending, committed, failed]))
    return root


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert coresnap_main(list(argv)) == 0
    return capsys.readouterr().out


def test_list_in_the_seeds_format(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pending, sending, committed, failed = (root / "ids").read_text().split()
    out = cli(capsys, "list", "-r", str(root))
    lines = out.splitlines()
    assert all(LINE.match(line) for line in lines[:-2]), out
    assert lines[-2] == ""
    assert f"   pending/{pending[:12]}... c-a capture_" in out
    assert f"   sending/{sending[:12]}... -sa capture_" in out
    assert f"    failed/{failed[:12]}... c-a capture_" in out
    assert committed[:12] not in out
    core_size = human_size((root / "pending" / pending).stat().st_size)
    assert lines[-1] == (f"[pending]/1O/{core_size} [sending]/1O/14.00B "
                         f"[failed]/1O/{core_size} [dropped]/7O ")  # fmt: skip
    everything = cli(capsys, "list", "-a", "-r", str(root))
    assert f" committed/{committed[:12]}... cs- capture_" not in everything  # assets kept
    assert f" committed/{committed[:12]}... csa capture_" in everything
    assert cli(capsys, "list", "-r", str(root), "nosuchexe").splitlines()[-1] == ""


def test_info_retry_purge(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pending, sending, committed, failed = (root / "ids").read_text().split()
    out = cli(capsys, "info", "-r", str(root), failed[:8])
    assert f"id:       {failed}" in out and "stage:    failed (c-a)" in out
    assert "failed:   snapshot: exit status 3: broken" in out
    assert "signal_name: SIGSEGV" in out
    assert cli(capsys, "retry", "-r", str(root), failed[:10]) == f"{failed}: failed -> pending\n"
    assert failed in names(root / "pending")
    assert coresnap_main(["retry", "-r", str(root), pending]) == 1  # not failed
    assert coresnap_main(["info", "-r", str(root), "ffffffffff"]) == 1
    out = cli(capsys, "purge", "-r", str(root), sending)
    assert out == f"removed sending/{sending}\n"
    assert sending not in names(root / "assets")
    cli(capsys, "purge", "-r", str(root), "--committed")
    assert names(root / "committed") == []


def test_gdb_on_a_kept_core(root: Path, crash: crashes.Crash) -> None:
    committed = (root / "ids").read_text().split()[2]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "coresnap.cli.coresnap",
            "gdb",
            "-r",
            str(root),
            committed,
            "-batch",
            "-ex",
            "bt",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "segv" in out.stdout and "main" in out.stdout
