"""coredumpctl's habits on this host's dumps (issue 14): ``coresnap dump ID -o FILE`` writes the
core (kept, compressed or pending), ``coresnap view ID`` shows a dump's snapshot, ``coresnap
info ID`` shows the crashing thread's backtrace."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import zstandard

from coresnap.cli.coresnap import main as coresnap_main
from coresnap.spool.stages import Spool, Stage
from tests import crashes
from tests.daemon.daemon_helpers import names, replay


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two dumps of one crash: committed (snapshot, core kept zstd-compressed), pending."""
    tmp = tmp_path_factory.mktemp("habits")
    crash = crashes.crash(crashes.build("capture_crash.c"), ["segv"], cwd=tmp / "run")
    root = tmp / "root"
    for _ in range(2):
        assert replay(root, crash.core.read_bytes(), crash.pid, exe=str(crash.exe)) == 0
    committed, _pending = Spool(root).ids(Stage.PENDING)
    (root / "sending").mkdir(exist_ok=True)
    made = subprocess.run([sys.executable, "-m", "coresnap.cli.coresnap", "snapshot",
                           str(crash.core), str(crash.exe), "-o", str(root / "sending" / committed)],
                          capture_output=True, text=True)  # fmt: skip
    assert made.returncode == 0, made.stderr
    zst = root / "committed" / f"{committed}.core.zst"
    zst.parent.mkdir(exist_ok=True)
    zst.write_bytes(zstandard.compress(crash.core.read_bytes()))
    (root / "pending" / committed).unlink()
    Spool(root).advance(committed, Stage.SENDING, Stage.COMMITTED)
    (tmp / "core").write_bytes(crash.core.read_bytes())
    return root


def _ids(root: Path) -> tuple[str, str]:
    committed = next(n for n in names(root / "committed") if "." not in n)
    return committed, names(root / "pending")[0]


def test_dump_writes_the_core(root: Path, tmp_path: Path) -> None:
    core = (root.parent / "core").read_bytes()
    for dump_id in _ids(root):
        out = tmp_path / f"{dump_id}.core"
        assert coresnap_main(["dump", "-r", str(root), dump_id[:10], "-o", str(out)]) == 0
        assert out.read_bytes() == core
    piped = subprocess.run([sys.executable, "-m", "coresnap.cli.coresnap", "dump", "-r",
                            str(root), _ids(root)[1]], capture_output=True)  # fmt: skip
    assert piped.returncode == 0 and piped.stdout == core


def test_view_and_info_by_id(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    committed, pending = _ids(root)
    assert coresnap_main(["view", "-r", str(root), committed[:8], "--width", "160"]) == 0
    shown = capsys.readouterr().out
    assert "crashing frame" in shown and "segv at " in shown
    assert coresnap_main(["view", "-r", str(root), pending[:8]]) == 1
    assert "has no snapshot yet (pending)" in capsys.readouterr().err
    assert coresnap_main(["info", "-r", str(root), committed[:8]]) == 0
    info = capsys.readouterr().out
    assert "backtrace of thread " in info
    lines = info.split("backtrace of thread ", 1)[1].splitlines()
    assert lines[1].startswith("  #0 ") and " segv at " in lines[1] and " main at " in info
    assert coresnap_main(["info", "-r", str(root), pending[:8]]) == 0
    assert "backtrace: none yet" in capsys.readouterr().out
