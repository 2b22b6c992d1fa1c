"""Snapshots of real crashes (real program, real kernel core, `coresnap snapshot`) in the store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard

from coresnap.client import cf, put_snapshot
from coresnap.client.api import get_object, query
from tests.crashes import build, crash
from tests.run_cli import coresnap
from tests.store.coronerd_server import Server


@pytest.fixture(scope="module")
def real_snapshots(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two snapshots of two crashes of the same program (so: one group)."""
    exe = build("core_null.c")
    out = []
    for n in range(2):
        work = tmp_path_factory.mktemp(f"real{n}")
        c = crash(exe, cwd=work, expect_signal=11)
        snap = work / "crash.snap"
        done = coresnap("snapshot", "-o", str(snap), str(c.core), str(c.exe))
        assert done.returncode == 0, done.stderr
        out.append(snap)
    return out


def test_real_crash_snapshots_are_stored_grouped_and_returned(
    store: Server, real_snapshots: list[Path]
) -> None:
    p = store.project()
    conf = cf.load(p.cf)
    oids = [put_snapshot(conf, p.name, "blackhole", snap) for snap in real_snapshots]
    docs = [json.loads(zstandard.decompress(s.read_bytes())) for s in real_snapshots]
    assert oids == [d["uuid"] for d in docs]
    assert get_object(conf, p.name, oids[0]) == real_snapshots[0].read_bytes()
    result = query(conf, p.name, {"objects": 2})
    assert result["total"] == 2
    fingerprints = {(d.get("fingerprint") or {}).get("hash") for d in docs}
    assert len(result["rows"]) == len(fingerprints)  # same program, same crash: same group
    listed = subprocess.run(
        [
            sys.executable,
            "-m",
            "coresnap.cli.coroner",
            "-c",
            str(p.cf),
            "list",
            p.name,
            "--filter=application=" + docs[0]["attributes"]["application"],
            "-i2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    assert f"[{oids[1]}]" in listed.stdout and "  Occurrences: 2 (over 0 days)" in listed.stdout
