"""``coronerd project|token|user list/delete/revoke`` on a live store (issue 14): a revoked
token stops working at once; a deleted project takes its objects, blobs, groups and tokens."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from types import SimpleNamespace

import httpx

from coresnap.cli.coronerd import main
from coresnap.client import cf, put_snapshot
from tests.store.coronerd_server import Server
from tests.store.store_snapshots import make_snapshot, write


def coronerd(store: Server, *args: str) -> SimpleNamespace:
    """The command in this process (each subprocess would pay the server's imports again)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["-c", str(store.config), *args])
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def _blobs(store: Server) -> set[Path]:
    return {p for p in (store.workdir / "blobs").rglob("*") if p.is_file()}


def test_projects_and_tokens(store: Server, tmp_path: Path) -> None:
    p = store.project()
    before = _blobs(store)
    conf = cf.load(str(p.cf))
    for app in ("one", "two"):
        put_snapshot(conf, p.name, "blackhole", write(tmp_path, make_snapshot(application=app)))
    ours = _blobs(store) - before
    assert ours
    listed = coronerd(store, "project", "list").stdout.splitlines()
    assert listed[0].split() == ["project", "objects", "groups", "tokens", "created"]
    assert [line.split()[:4] for line in listed if line.startswith(p.name)] == [
        [p.name, "2", "1", "3"]
    ]
    tokens = coronerd(store, "token", "list", p.name).stdout
    assert [line.split()[1:3] for line in tokens.splitlines()[1:]] == [
        ["blackhole", "read,submit"], ["reader", "read"], ["submitter", "submit"]]  # fmt: skip
    assert all(secret not in tokens for secret in p.tokens.values())
    url = f"{store.url}/api/v1/projects/{p.name}/summary"
    assert httpx.get(url, headers=p.headers("reader")).status_code == 200
    revoked = coronerd(store, "token", "revoke", p.name, "reader")
    assert revoked.returncode == 0, revoked.stderr
    assert httpx.get(url, headers=p.headers("reader")).status_code == 401
    assert coronerd(store, "token", "revoke", p.name, "reader").returncode == 1
    refused = coronerd(store, "project", "delete", p.name)
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert _blobs(store) >= ours
    deleted = coronerd(store, "project", "delete", p.name, "--yes")
    assert deleted.stdout == f"project {p.name} deleted (2 objects, its groups and tokens)\n"
    assert not ours & _blobs(store)
    assert p.name not in coronerd(store, "project", "list").stdout
    assert httpx.get(url, headers=p.headers("blackhole")).status_code in (401, 404)


def test_users(store: Server, tmp_path: Path) -> None:
    p = store.project()
    password = tmp_path / "pw"
    password.write_text("a long enough password\n")
    name = f"u{p.name}"
    assert coronerd(store, "user", "create", name, "--password-file", str(password)).returncode == 0
    assert coronerd(store, "user", "grant", name, p.name).returncode == 0
    assert f"{name}  no     {p.name}" in coronerd(store, "user", "list").stdout
    assert coronerd(store, "user", "revoke", name, p.name).returncode == 0
    assert coronerd(store, "user", "revoke", name, p.name).returncode == 1
    assert coronerd(store, "user", "delete", name).stdout == f"user {name} deleted\n"
    assert name not in coronerd(store, "user", "list").stdout
    assert coronerd(store, "user", "delete", name).returncode == 1
