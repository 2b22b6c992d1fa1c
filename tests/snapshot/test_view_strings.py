"""The terminal view shows text as the program held it: ``char *`` struct members with their
strings (not as decimal numbers), escapes once, accents as they are (issue 14); a member named
like a secret keeps its string on the host."""

from __future__ import annotations

from pathlib import Path

from coresnap.capture.scrub import MARK
from coresnap.snapshot import load
from tests import crashes
from tests.snapshot.snapshot_support import coresnap


def test_members_strings_and_escapes(tmp_path: Path) -> None:
    exe = crashes.build("view_strings.c")
    crash = crashes.crash(exe, cwd=tmp_path)
    out = tmp_path / "s.snap"
    done = coresnap("snapshot", str(crash.core), str(crash.exe), "-o", str(out))
    assert done.returncode == 0, done.stderr
    frame = load(out)["threads"][0]["frames"][0]
    u = next(v for v in frame["variables"] if v["name"] == "u")
    assert u["strings"] == {"->name": 'alice "the admin"', "->file.path": "C:\\tmp\\x",
                            "->password": MARK}  # fmt: skip
    assert isinstance(u["deref"]["name"], int)  # the value keeps the address
    view = coresnap("view", str(out), "--width", "400")
    assert view.returncode == 0, view.stderr
    text = view.stdout
    name, path = u["deref"]["name"], u["deref"]["file"]["path"]
    assert f'"name": {name:#x} "alice \\"the admin\\""' in text, text
    assert f'"file": {{"path": {path:#x} "C:\\tmp\\x", "mode": 420}}' in text
    assert '"note": "line1\\nline2"' in text
    assert '"a\\tb\\"c\\d"' in text  # a tab, a quote and a backslash, each escaped once at most
    assert '"café na\\xefve"' in text  # UTF-8 as it is; the byte that is not UTF-8 once
    assert '"say \\"hi\\"\\n"' in text
