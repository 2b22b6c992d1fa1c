"""coresnap list / info / retry / gdb / purge on a dump root in known states."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from coresnap.cli.coresnap import main as coresnap_main
from coresnap.spool import counters
from coresnap.spool.inventory import human_size
from coresnap.spool.stages import Spool, Stage
from tests import crashes
from tests.daemon.daemon_helpers import names, replay

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
    assert coresnap_main(["list", "-r", str(root), "nosuchexe"]) == 1
    assert capsys.readouterr().err == f"coresnap list: no dumps match under {root}\n"


def test_list_says_why_it_shows_nothing(
    tmp_path: Path, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert coresnap_main(["list", "-r", str(tmp_path / "nowhere")]) == 1
    assert "no dump root" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert coresnap_main(["list", "-r", str(tmp_path / "empty")]) == 1
    assert capsys.readouterr().err == f"coresnap list: no dumps under {tmp_path / 'empty'}\n"
    assert coresnap_main(["list", "-r", str(root), "--until", "2001-01-01"]) == 1


def test_list_matches_like_coredumpctl(
    root: Path, crash: crashes.Crash, capsys: pytest.CaptureFixture[str]
) -> None:
    pending, sending, _committed, failed = (root / "ids").read_text().split()
    shown = {pending[:12], sending[:12], failed[:12]}
    for match in (str(crash.pid), str(crash.exe), crash.exe.name):
        out = cli(capsys, "list", "-r", str(root), match)
        assert {line.split("/")[1][:12] for line in out.splitlines()[:-2]} == shown, match
    assert coresnap_main(["list", "-r", str(root), str(crash.pid + 1)]) == 1
    assert coresnap_main(["list", "-r", str(root), "/elsewhere/" + crash.exe.name]) == 1
    latest = cli(capsys, "list", "-r", str(root), "-1").splitlines()
    assert len(latest) == 3 and latest[0].split("/")[1][:12] in shown | {_committed[:12]}
    assert len(cli(capsys, "list", "-r", str(root), "--since", "1h").splitlines()) == 5
    assert (
        len(cli(capsys, "list", "-r", str(root), "-a", "--until", "@9999999999").splitlines()) == 6
    )
    assert coresnap_main(["list", "-r", str(root), "--since", "@9999999999"]) == 1
    dumps = json.loads(cli(capsys, "list", "-r", str(root), "--json", crash.exe.name))
    assert [d["id"] for d in dumps] == [pending, sending, failed]
    assert dumps[0]["pid"] == crash.pid and dumps[0]["exe_path"] == str(crash.exe)
    assert dumps[0]["flags"] == "c-a" and dumps[0]["stage"] == "pending"


def test_list_columns_fit_long_names(tmp_path: Path, crash: crashes.Crash,
                                     capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    root = tmp_path / "root"
    for comm in ("a_rather_long_server_name", "short"):
        exe = f"/opt/{comm}"
        assert replay(root, crash.core.read_bytes(), crash.pid, comm, exe=exe) == 0
    lines = cli(capsys, "list", "-r", str(root)).splitlines()[:2]
    assert len({len(line) for line in lines}) == 1, lines  # the date and size columns align
    assert all(LINE.match(line) for line in lines), lines


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
    assert out == f"removed sending/{sending}\nremoved 1 dumps (14.00B) from {root}\n"
    assert sending not in names(root / "assets")
    assert "removed 1 dumps" in cli(capsys, "purge", "-r", str(root), "--committed")
    assert names(root / "committed") == []
    assert cli(capsys, "purge", "-r", str(root), "--committed") == (
        f"removed 0 dumps (0.00B) from {root}\n"
    )


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
