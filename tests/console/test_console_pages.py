"""What the pages show: folded threads, registers, maps, modules, attachments, history, users."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
import zstandard
from sqlalchemy import insert, select

from coresnap.client import cf, put_snapshot
from coresnap.store import auth
from coresnap.store.console import users
from coresnap.store.db.engine import make_engine, writing
from coresnap.store.db.models import alert_deliveries, alert_targets, groups
from tests.console.console_crashes import real_crash, snapshot
from tests.console.console_server import PASSWORD, Server, add_user, sign_in, upload
from tests.store.store_snapshots import group_key


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
    bug_a, bug_b = "a1" * 32, "b2" * 32  # make_snapshot seeds; a, b: coronerd's group keys
    upload(sqlite_store, p, fingerprint=bug_a, frames=("alpha", "main"))
    upload(sqlite_store, p, fingerprint=bug_b, frames=("beta", "main"))
    a = group_key(fingerprint=bug_a, frames=("alpha", "main"))
    b = group_key(fingerprint=bug_b, frames=("beta", "main"))
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


def test_project_page_lists_alert_messages_not_delivered(console_store: Server) -> None:
    p, other = console_store.project(), console_store.project()
    upload(console_store, p, fingerprint="c3" * 32)
    fp = group_key(fingerprint="c3" * 32)  # coronerd's key of the bug's group
    engine = make_engine(console_store.database_url)
    now = time.time()
    try:
        with writing(engine.connect()) as conn, conn.begin():
            pid = auth.project_id(conn, p.name)
            mine = (groups.c.fingerprint == fp) & (groups.c.project_id == pid)
            gid = conn.execute(select(groups.c.id).where(mine)).scalar()
            for project_id, name in ((pid, "ops-slack"), (auth.project_id(conn, other.name), "x")):
                target = conn.execute(
                    insert(alert_targets).values(
                        project_id=project_id,
                        name=name,
                        kind="slack",
                        settings="{}",
                        events="new-group",
                        min_interval=0.0,
                        enabled=True,
                        created=now,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
                for state, attempts, error in (
                    ("failed", 6, "connection refused (127.0.0.1:9)"),
                    ("pending", 2, "HTTP 503 from receiver"),
                    ("sent", 1, None),
                ):
                    conn.execute(
                        insert(alert_deliveries).values(
                            target_id=target,
                            group_id=gid,
                            event="new-group",
                            payload="{}",
                            state=state,
                            attempts=attempts,
                            next_attempt=now + 60,
                            last_error=error,
                            created=now,
                        )
                    )
    finally:
        engine.dispose()  # fmt: skip
    client = sign_in(console_store, add_user(console_store, f"u{uuid.uuid4().hex[:8]}", [p.name]))
    html = client.get(f"/p/{p.name}").text
    section = html[
        html.index('id="deliveries"') : html.index("</section>", html.index('id="deliveries"'))
    ]
    assert "ops-slack" in section and '"x"' not in section
    assert "gave up" in section and "connection refused (127.0.0.1:9)" in section
    assert "retrying" in section and "HTTP 503 from receiver" in section
    assert section.count("<tr><td>") == 2  # the sent message is not a problem


def test_project_page_sorts_and_pages_groups(sqlite_store: Server) -> None:
    p = sqlite_store.project()
    now = time.time()
    # 52 groups: group i has i % 4 + 1 objects, first seen i hours ago.
    for i in range(52):
        for k in range(i % 4 + 1):
            upload(sqlite_store, p, fingerprint=f"{i:064x}", timestamp=now - 3600 * i + k)
    client = sign_in(sqlite_store, add_user(sqlite_store, f"u{uuid.uuid4().hex[:8]}", [p.name]))

    bug = {group_key(fingerprint=f"{i:064x}"): f"{i:064x}" for i in range(52)}

    def fingerprints(**params: str) -> list[str]:
        """The bugs (seeds: group i's is i in hex) of the listed groups, in order."""
        html = client.get(f"/p/{p.name}", params=params).text
        keys = re.findall(r'<tr class="group" data-fingerprint="([0-9a-f]+)">', html)
        return [bug[k] for k in keys]

    first = fingerprints()
    assert len(first) == 50
    assert [int(f, 16) for f in first] == list(range(50))  # newest last seen first
    second = fingerprints(page="1")
    assert [int(f, 16) for f in second] == [50, 51]
    html = client.get(f"/p/{p.name}").text
    assert "page=1" in html and "page=-1" not in html
    by_count = [int(f, 16) % 4 + 1 for f in fingerprints(sort="count")]
    assert by_count == sorted(by_count, reverse=True)
    oldest = [int(f, 16) for f in fingerprints(sort="first")]
    assert oldest[:3] == [0, 1, 2]  # "first seen" lists the newest-born groups first
    windowed = fingerprints(age="1d")
    assert sorted(int(f, 16) for f in windowed) == list(range(24))
