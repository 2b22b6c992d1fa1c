"""``[[alerts]]`` tables in coronerd.toml: synced at start-up, removed ones disabled, bad ones
refused with the table and key named."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from coresnap.store.db.engine import make_engine, upgrade
from tests.alerts.alert_receivers import HttpReceiver
from tests.alerts.alert_store import ALERTING, api, put, settle
from tests.store.coronerd_server import Server, fresh_pg_database, make_server
from tests.store.store_snapshots import group_key

FP = "f6" * 32


def _server(tmp_path: Path, alerts: str) -> Server:
    server = make_server("sqlite", tmp_path / "coronerd", None, **ALERTING)
    engine = make_engine(server.database_url)
    upgrade(engine)  # the project must exist before coronerd reads [[alerts]] naming it
    engine.dispose()
    server.config.write_text(server.config.read_text() + alerts)
    return server


def test_config_targets_are_synced_at_start(tmp_path: Path) -> None:
    hook = HttpReceiver().start()
    server = _server(tmp_path, "")
    p = server.project("cfg")
    base = server.config.read_text()
    server.config.write_text(
        base
        + f"""
[[alerts]]
project = "{p.name}"
name = "ops-hook"
kind = "webhook"
url = "{hook.url}/ops"
secret = "from-the-file"
events = ["new-group"]
filter = ["application=simple"]
min_interval = "10m"
"""
    )
    try:
        server.start()
        (target,) = httpx.get(api(server, p), headers=p.headers("reader")).json()["targets"]
        assert (target["name"], target["kind"], target["events"]) == (
            "ops-hook",
            "webhook",
            ["new-group"],
        )
        assert target["filter"] == [{"attribute": "application", "op": "equal", "value": "simple"}]
        assert target["min_interval"] == 600 and target["settings"]["secret"] == "********"
        put(server, p, fingerprint=FP)
        put(server, p, fingerprint="a7" * 32, application="other")  # filtered out
        settle(server, p)
        (got,) = hook.wait(1)
        key = group_key(fingerprint=FP)  # coronerd's key of the bug's group
        assert got.path == "/ops" and got.json()["group"]["fingerprint"] == key

        server.kill()  # the table leaves the file: the target is disabled, its history kept
        server.config.write_text(base)
        server.start(server.port)
        (target,) = httpx.get(api(server, p), headers=p.headers("reader")).json()["targets"]
        assert target["enabled"] is False
        history = httpx.get(api(server, p) + "/deliveries", headers=p.headers()).json()
        assert [d["state"] for d in history["deliveries"]] == ["sent"]
    finally:
        server.kill()
        hook.stop()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('kind = "pager"\nurl = "http://x"', "[[alerts]] #1: kind: one of slack, jira"),
        ('kind = "webhook"', "[[alerts]] #1: url: required for webhook targets"),
        ('kind = "email"\nhost = "h"\nfrom = "a@b"\nto = "c@d"\nport = "x"', "port: a TCP port"),
    ],
)
def test_bad_tables_stop_coronerd_with_a_clear_error(
    tmp_path: Path, table: str, message: str
) -> None:
    server = _server(tmp_path, "")
    p = server.project("bad")
    server.config.write_text(
        server.config.read_text() + f'\n[[alerts]]\nproject = "{p.name}"\nname = "t"\n{table}\n'
    )
    with pytest.raises(RuntimeError, match="coronerd exited"):
        server.start()
    assert message in server.log()


def test_unknown_project_is_refused(tmp_path: Path) -> None:
    server = _server(
        tmp_path, '\n[[alerts]]\nproject = "nope"\nname = "t"\nkind = "webhook"\nurl = "http://x"\n'
    )
    with pytest.raises(RuntimeError, match="coronerd exited"):
        server.start()
    assert "[[alerts]] 't': no project 'nope'" in server.log()


def test_two_coronerd_on_one_postgresql_start_together_and_send_once(tmp_path: Path) -> None:
    hook = HttpReceiver().start()
    with fresh_pg_database() as url:
        servers = [make_server("postgresql", tmp_path / f"c{i}", url, **ALERTING) for i in range(2)]
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        p = servers[0].project("two")
        table = f'\n[[alerts]]\nproject = "{p.name}"\nname = "h"\nkind = "webhook"\nurl = "{hook.url}"\n'
        for s in servers:
            s.config.write_text(s.config.read_text() + table)
        try:
            starting = [threading.Thread(target=s.start) for s in servers]
            for t in starting:
                t.start()
            for t in starting:
                t.join(60)
            assert all(s.alive() for s in servers)
            fps = [f"{i:02x}" * 32 for i in range(20, 40)]
            for i, fp in enumerate(fps):
                put(servers[i % 2], p, fingerprint=fp)
            settle(servers[1], p)
            time.sleep(1.5)
            got = sorted(r.json()["group"]["fingerprint"] for r in hook.requests)
            # each new group once, whichever coronerd sent it
            assert got == sorted(group_key(fingerprint=fp) for fp in fps)
        finally:
            for s in servers:
                s.kill()
            hook.stop()
