"""coresnap-archive scrubs the asset tar: replayed from argv + stdin with a live process in
the place of the crashed one (its /proc is what the tool reads; the core is a real one)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from coresnap.capture import archive, fields
from coresnap.capture.scrub import MARK
from tests import crashes
from tests.capture.hook import write_conf

SECRETS = {"hunter2", "abcTOKEN77", "lcSecretTok3n", "sk9Q2mZ7vV"}


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> crashes.Crash:
    exe = crashes.build("capture_crash.c")
    return crashes.crash(exe, ["segv"], cwd=tmp_path_factory.mktemp("privacy-capture"))


@pytest.fixture
def live() -> Iterator[int]:
    """A process with secrets in its command line and allow-listed environment."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", "--password=hunter2",
         "--token", "abcTOKEN77", "plain", "--header=X-Key: sk9Q2mZ7vV"],
        env={"PATH": "/usr/bin:/bin", "LC_SECRET_TOKEN": "lcSecretTok3n", "LANG": "C",
             "UPSTREAM_API_KEY": "sk9Q2mZ7vV"},  # not allow-listed, yet on the command line
    )  # fmt: skip
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def replay(conf: Path, root: Path, pid: int, core: crashes.Crash) -> tuple[int, dict[str, bytes]]:
    values = {"pid": pid, "ns_pid": core.pid, "tid": pid, "ns_tid": core.pid, "signal": 11,
              "time": 1700000000, "core_limit": fields.RLIM_INFINITY, "hostname": "h",
              "uid": 0, "gid": 0, "dumpable": 1, "comm": "python3", "exe_path": "!usr!bin!python3"}  # fmt: skip
    argv = ["-c", str(conf), *(str(values[f.name]) for f in fields.FIELDS)]
    code = archive.main(argv, io.BytesIO(core.core.read_bytes()))
    [tar] = list((root / "assets").iterdir())
    with tarfile.open(tar) as t:
        return code, {m.name: t.extractfile(m).read() for m in t.getmembers()}  # type: ignore[union-attr]


def test_the_asset_tar_is_scrubbed_and_says_what_went(
    tmp_path: Path, live: int, core: crashes.Crash
) -> None:
    conf = write_conf(tmp_path / "c", dump__root=str(tmp_path / "d"), dump__quota="0")
    code, members = replay(conf, tmp_path / "d", live, core)
    assert code == 0
    assert not [s for s in SECRETS if any(s.encode() in data for data in members.values())]
    args = members["proc/cmdline"].split(b"\0")
    assert args[3:8] == [f"--password={MARK}".encode(), b"--token", MARK.encode(), b"plain",
                         f"--header=X-Key: {MARK}".encode()]  # fmt: skip
    assert f"LC_SECRET_TOKEN={MARK}".encode() in members["proc/environ"].split(b"\0")
    record = json.loads(members["metadata.json"])["privacy"]
    assert [(r["where"], r["scrubber"]) for r in record["scrubbed"]] == [
        ("proc/cmdline[3]", "argv"), ("proc/cmdline[5]", "argv"),
        ("proc/environ.LC_SECRET_TOKEN", "environ"), ("proc/cmdline[7]", "environ")]  # fmt: skip
    assert record["scrubbed"][-1]["rule"] == "known:proc.environ.UPSTREAM_API_KEY"


def test_an_unreadable_policy_keeps_process_text_out(
    tmp_path: Path, live: int, core: crashes.Crash, capfd: pytest.CaptureFixture[str]
) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "values.txt").write_text("(unclosed\n")
    conf = write_conf(tmp_path / "c", dump__root=str(tmp_path / "d"), dump__quota="0",
                      privacy__lists=str(lists))  # fmt: skip
    code, members = replay(conf, tmp_path / "d", live, core)
    assert code == 0  # the core is kept: only the text that could hold secrets is not
    assert "proc/cmdline" not in members and "proc/environ" not in members
    meta = json.loads(members["metadata.json"])
    assert {"proc/cmdline", "proc/environ"} <= set(meta["assets_missing"])
    assert f"{lists}/values.txt:1" in meta["privacy"]["error"]
    assert "privacy policy unreadable" in capfd.readouterr().err
