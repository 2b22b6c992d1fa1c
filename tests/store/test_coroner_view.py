"""``coroner get P ID`` shows the snapshot in the terminal viewer (the seed's habit); ``-o FILE``
saves it; ``coroner view`` is the viewer too, never raw JSON (issue 14)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.store.coronerd_server import Server
from tests.store.store_snapshots import make_snapshot, write


def _coroner(cf: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coresnap.cli.coroner", "-c", str(cf), *args],
        capture_output=True, text=True, timeout=60, cwd=cwd,
    )  # fmt: skip


def test_get_shows_and_output_saves(store: Server, tmp_path: Path) -> None:
    p = store.project()
    snap = make_snapshot()
    path = write(tmp_path, snap)
    assert _coroner(p.cf, tmp_path, "put", p.name, "blackhole", str(path)).returncode == 0
    work = tmp_path / "work"
    work.mkdir()
    app = snap["attributes"]["application"]
    for command in ("get", "view"):
        shown = _coroner(p.cf, work, command, p.name, snap["uuid"])
        assert shown.returncode == 0, shown.stderr
        assert not shown.stdout.lstrip().startswith("{"), shown.stdout[:200]
        assert app in shown.stdout and "crashing frame" in shown.stdout, shown.stdout
    assert list(work.iterdir()) == [], "showing writes no file"
    saved = _coroner(p.cf, work, "get", p.name, snap["uuid"], "--output", "s.snap")
    assert saved.returncode == 0, saved.stderr
    assert (work / "s.snap").read_bytes() == path.read_bytes()
