"""Planted secrets through the real pipeline: kernel → coresnap-archive → coresnapd (coresnap
snapshot, coroner put) → coronerd → console. The secrets must be nowhere past the host's
dump root: not in the asset tar, the snapshot, the stored blob, the API, the console pages;
the privacy record must say what was removed; turning scrubbers off must let their secrets
through (so the scrubbers are what removed them)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import zstandard

from coresnap.capture.scrub import MARK
from coresnap.client import cf
from coresnap.client.api import get_object, query
from tests.console.console_server import add_user, sign_in
from tests.privacy.planted import (
    FLAG_SETTING,
    IN_ASSETS,
    REMOVED_BY,
    SECRETS,
    Captured,
    crash_through_pipeline,
    found,
)
from tests.run_cli import coresnap
from tests.store.coronerd_server import Server

pytestmark = pytest.mark.slow


VARIABLE = re.compile(r"threads\[\d+\]\.frames\[\d+\]\.variables\[\d+\]")


def variable_of(snap: dict, where: str) -> dict:
    """The variable record a record's path is in (or is)."""
    m = VARIABLE.match(where)
    assert m, where
    return dict(resolve(snap, m.group(0)))


def resolve(doc: Any, where: str) -> Any:
    """The value at a record's JSON path (``threads[0].frames[1].variables[2].value.header``)."""
    for part in where.replace("[", ".[").split("."):
        if part.startswith("["):
            doc = doc[int(part[1:-1])]
        elif part:
            doc = doc[part]
    return doc


def test_secrets_stay_on_the_host(tmp_path: Path, store: Server) -> None:
    project = store.project("priv")
    got = crash_through_pipeline(tmp_path, store, project, **FLAG_SETTING)
    snap = json.loads(got.document)
    assert snap["analysis"]["engine"] == "drgn", snap["analysis"]  # variables are read
    assert found(SECRETS, got.snapshot + got.document) == []
    for name, data in got.assets.items():
        assert found(SECRETS, data) == [], name
    views = _store_views(store, project, got)
    for name, data in views.items():
        assert found(SECRETS, data) == [], name
    assert b"--password=&lt;scrubbed&gt;" in views["console object page"]

    record = snap["privacy"]
    assert record["scrubbers"] == ["argv", "environ", "variables", "values"]
    by_where = {(r["where"], r["scrubber"]): r["rule"] for r in record["scrubbed"]}
    cmdline = snap["process"]["cmdline"]
    assert cmdline[1:6] == [f"--password={MARK}", "--token", MARK, "-k", MARK]
    assert cmdline[6] == f"https://app:{MARK}@db.example.com/x"
    assert by_where[("process.cmdline[1]", "argv")] == "name:passw(or)?d"
    assert by_where[("process.cmdline[3]", "argv")] == "name:token"
    assert by_where[("process.cmdline[5]", "argv")] == "flag:-k"
    assert by_where[("process.cmdline[6]", "values")].startswith("value:")
    for name in ("LC_SECRET_TOKEN", "MALLOC_PASSWORD"):
        assert snap["process"]["environ"][name] == MARK
        assert (f"process.environ.{name}", "environ") in by_where
    assert "AWS_SECRET_ACCESS_KEY" not in snap["process"]["environ"]  # never allow-listed
    held = {(variable_of(snap, w)["name"], s) for w, s in by_where if VARIABLE.match(w)}
    assert {("key", "variables"), ("access", "values"), ("req", "values"), ("first", "argv"),
            ("session_id", "variables")} <= held  # fmt: skip
    header = [w for w, s in by_where if w.endswith(".value.header")]
    assert header and all(resolve(snap, w) == f"Bearer {MARK}" for w in header)
    tar_record = json.loads(got.assets["metadata.json"])["privacy"]
    assert {r["where"] for r in tar_record["scrubbed"]} >= {
        "proc/cmdline[1]", "proc/cmdline[3]", "proc/cmdline[5]", "proc/cmdline[6]",
        "proc/environ.LC_SECRET_TOKEN", "proc/environ.MALLOC_PASSWORD"}  # fmt: skip

    view = coresnap("view", str(got.root / "committed" / got.dump_id), "--width", "150")
    assert view.returncode == 0, view.stderr
    assert f"--password={MARK} --token {MARK}" in view.stdout
    assert "values scrubbed on the host" in view.stdout and f" {MARK}" in view.stdout


def _store_views(store: Server, project: Any, got: Captured) -> dict[str, bytes]:
    """Everything the store serves about the object: the API's answers and console pages."""
    conf = cf.load(project.cf)
    blob = get_object(conf, project.name, got.dump_id)
    api = f"{store.url}/api/v1/projects/{project.name}"
    headers = project.headers()
    views = {
        "stored blob": zstandard.decompress(blob),
        "query": json.dumps(query(conf, project.name, {"objects": 10})).encode(),
    }
    meta = httpx.get(f"{api}/objects/{got.dump_id}/meta", headers=headers, timeout=30)
    group = meta.json()["group"]
    for path in (f"/objects/{got.dump_id}/meta", "/attributes", "/summary", f"/groups/{group}"):
        r = httpx.get(api + path, headers=headers, timeout=30)
        assert r.status_code == 200, (path, r.text)
        views[f"api {path}"] = r.content
    user = add_user(store, f"u{project.name}", [project.name])
    client = sign_in(store, user)
    for name, path in (
        ("console object page", f"/p/{project.name}/o/{got.dump_id}"),
        ("console raw snapshot", f"/p/{project.name}/o/{got.dump_id}/snapshot"),
        ("console group page", f"/p/{project.name}/g/{group}"),
        ("console project page", f"/p/{project.name}"),
        ("console home", "/"),
    ):
        r = client.get(path)
        assert r.status_code == 200, (path, r.text[:300])
        views[name] = _maybe_zstd(r.content)
    return views


def _maybe_zstd(data: bytes) -> bytes:
    return zstandard.decompress(data) if data[:4] == b"\x28\xb5\x2f\xfd" else data


@pytest.mark.parametrize("off", ["argv", "environ", "variables", "values"])
def test_a_scrubber_turned_off_lets_its_secrets_through(
    tmp_path: Path, store: Server, off: str
) -> None:
    project = store.project("off")
    on = [s for s in ("argv", "environ", "variables", "values") if s != off]
    got = crash_through_pipeline(tmp_path, store, project, privacy__scrub=",".join(on),
                                 **FLAG_SETTING)  # fmt: skip
    through = sorted(k for k, by in REMOVED_BY.items() if by == {off})
    assert through, f"no secret is {off}'s alone: the test would prove nothing"
    assert sorted(found(SECRETS, got.document)) == through
    blob = zstandard.decompress(get_object(cf.load(project.cf), project.name, got.dump_id))
    assert sorted(found(SECRETS, blob)) == through
    tar = b"".join(got.assets.values())
    assert sorted(found(SECRETS, tar)) == sorted(set(through) & IN_ASSETS)
    assert json.loads(got.document)["privacy"]["scrubbers"] == on
