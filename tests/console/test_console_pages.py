"""What the pages show: folded threads, registers, maps, modules, attachments, history, users."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
import zstandard
from console_crashes import real_crash, snapshot
from console_server import PASSWORD, Server, add_user, sign_in, upload

from coresnap.client import cf, put_snapshot
from coresnap.console import users


def test_object_page_folds_identical_threads_and_serves_attachments(
    sqlite_store: Server, tmp_path: Path
) -> None:
    c = real_crash("snap_threads.c", signal.SIGSEGV, tmp_path / "threads")
    snap_file = snapshot(c, tmp_path / "threads.snap", "3.1")
    doc = json.loads(zstandard.decompress(snap_file.read_bytes()))
    p = sqlite_store.project()
    oid = put_snapshot(cf.load(p.cf), p.name, "blackhole", snap_file)
    log = b"worker 7: about to crash\n"
    r = httpx.put(
        f"{sqlite_store.url}/api/v1/projects/{p.name}/objects/{oid}/attachments/app.log",
        content=log,
        headers={**p.headers(), "Content-Type": "text/html"},
    )
    assert r.status_code == 201, r.text
    client = sign_in(sqlite_store, add_user(sqlite_store, f"u{uuid.uuid4().hex[:8]}", [p.name]))
    page = client.get(f"/p/{p.name}/o/{oid}")
    assert page.status_code == 200
    html = page.text
    # 65 threads (main, 64 workers) of which workers park in two places: folded with counts.
    assert len(doc["threads"]) == 65
    folded = [int(n) for n in _folded_counts(html)]
    assert folded and max(folded) >= 16 and sum(folded) <= len(doc["threads"])
    assert html.count('<details class="thread') < len(doc["threads"]) // 4
    assert html.index("(crashed)") < html.index("threads with this stack")
    crashed = next(t for t in doc["threads"] if t["crashed"])
    assert f"<tr><td>rip</td><td><code>{crashed['registers']['rip']:#x}</code>" in html
    assert html.count("<tr><td>0x") == len(doc["memory_map"])  # one row per mapping
    for m in doc["modules"]:
        if m.get("build_id"):
            assert m["build_id"] in html
    # Downloads: the raw snapshot and the attachment, as files (never rendered as HTML).
    raw = client.get(f"/p/{p.name}/o/{oid}/snapshot")
    assert raw.content == snap_file.read_bytes()
    assert raw.headers["content-disposition"].startswith("attachment")
    att = client.get(f"/p/{p.name}/o/{oid}/a/app.log")
    assert att.content == log
    assert att.headers["content-type"] == "application/octet-stream"
    assert att.headers["content-disposition"] == 'attachment; filename="app.log"'
    assert client.get(f"/p/{p.name}/o/{oid}/a/missing.log").status_code == 404


def _folded_counts(html: str) -> list[str]:
    return re.findall(r"(\d+) threads with this stack", html)


def test_group_history_records_api_merges_and_the_console_user(sqlite_store: Server) -> None:
    p = sqlite_store.project()
    a, b = "a1" * 32, "b2" * 32
    upload(sqlite_store, p, fingerprint=a, frames=("alpha", "main"))
    upload(sqlite_store, p, fingerprint=b, frames=("beta", "main"))
    r = httpx.post(
        f"{sqlite_store.url}/api/v1/projects/{p.name}/groups/{a}/merge",
        json={"into": b},
        headers=p.headers("reader"),
    )
    assert r.status_code == 200, r.text
    client = sign_in(sqlite_store, add_user(sqlite_store, f"u{uuid.uuid4().hex[:8]}", [p.name]))
    page = client.get(f"/p/{p.name}/g/{b}")
    assert "merge</span> by <b>reader</b>" in page.text
    assert f"{a} merged in" in page.text
    assert page.text.count('<tr>\n    <td><a href="/p/') == 2  # both objects, now one group
    # The merged fingerprint's page leads to the group it is part of.
    moved = client.get(f"/p/{p.name}/g/{a}")
    assert moved.status_code == 303 and moved.headers["location"].endswith(f"/g/{b}")


def test_user_commands_create_grant_and_refuse(sqlite_store: Server, tmp_path: Path) -> None:
    p = sqlite_store.project()
    name = f"cli{uuid.uuid4().hex[:8]}"
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    base = [sys.executable, "-m", "coresnap.cli.coronerd", "-c", str(sqlite_store.config), "user"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *args], capture_output=True, text=True, timeout=60)

    done = run("create", name, "--password-file", str(pw))
    assert done.returncode == 0 and f"user {name} created" in done.stdout, done.stderr
    assert run("create", name, "--password-file", str(pw)).returncode == 1  # taken
    short = tmp_path / "short"
    short.write_text("abc\n")
    refused = run("create", name + "x", "--password-file", str(short))
    assert refused.returncode == 1 and "shorter than" in refused.stderr
    assert run("grant", name, "nosuchproject").returncode == 1
    client = sign_in(sqlite_store, name)
    assert client.get(f"/p/{p.name}").status_code == 404
    assert run("grant", name, p.name).returncode == 0
    assert client.get(f"/p/{p.name}").status_code == 200


@pytest.mark.parametrize("password", ["correct horse battery", "ünïcödé pässwörd", "x" * 200])
def test_password_hashes_are_salted_scrypt_with_their_parameters(password: str) -> None:
    first, second = users.hash_password(password), users.hash_password(password)
    assert first != second  # salted
    scheme, n, r, p, salt, key = first.split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", 2**14, 8, 1)
    assert len(bytes.fromhex(salt)) == 16 and len(bytes.fromhex(key)) == 32
    assert users.check_password(password, first) and users.check_password(password, second)
    assert not users.check_password(password + "!", first)
    assert not users.check_password(password, first.replace(key, "00" * 32))
    assert not users.check_password(password, "md5$whatever")
