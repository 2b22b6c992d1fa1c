"""Grouping v2 in the store, on SQLite and PostgreSQL, with snapshots of real crashes: the
server's fingerprint at ingest, ``coronerd regroup`` (dry run, then apply), learned symbols for
stripped builds, aliases."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
import zstandard
from sqlalchemy import Engine, select

from coresnap.analysis.fingerprint import VERSION
from coresnap.store.db.models import objects
from tests.store.coronerd_server import Server
from tests.store.regroup_crashes import (
    Snap,
    add_ticket,
    consistency,
    coronerd,
    from_old_client,
    group_as_old_version,
    group_facts,
    keyed,
    make_crashes,
    old_key,
    project_id,
    server_key,
    set_state,
    store_parts,
    tables,
    upload,
)

REASON = f"fingerprint v{VERSION - 1} → v{VERSION}"


@pytest.fixture(scope="module")
def crashes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Snap]:
    return make_crashes(tmp_path_factory.mktemp("regroup-crashes"))


def test_a_client_with_an_old_fingerprint_is_grouped_by_the_servers(
    store: Server, crashes: dict[str, Snap]
) -> None:
    p = store.project()
    snap = crashes["width1"]
    old = {"hash": "0f" * 32, "version": VERSION - 1, "frames": ["regroup_bugs!set_width"]}
    sent = snap.body(uuid=uuid.uuid4().hex, fingerprint=old)
    reply = upload(store, p, sent)
    assert reply["group"] == server_key(snap) != old["hash"]
    base = f"{store.url}/api/v1/projects/{p.name}/objects/{reply['object']}"
    blob = httpx.get(base, headers=p.headers())
    assert json.loads(zstandard.decompress(blob.content))["fingerprint"] == old  # untouched
    assert httpx.get(base + "/meta", headers=p.headers()).json()["fingerprint"] == server_key(snap)
    assert upload(store, p, snap.again())["group"] == server_key(snap)  # a current client: same
    engine, _, _ = store_parts(store)
    try:
        with engine.connect() as conn:
            q = select(objects.c.fp_version).where(
                objects.c.project_id == project_id(engine, p.name)
            )
            assert set(conn.execute(q).scalars()) == {VERSION}
    finally:
        engine.dispose()


def test_regroup_dry_run_then_apply_keeps_states_tickets_and_history(
    store: Server, crashes: dict[str, Snap]
) -> None:
    p = store.project()
    for name in ("width1", "width1", "width2", "sites-a", "sites-b"):
        upload(store, p, from_old_client(crashes, name))
    group_as_old_version(store, p, crashes)  # width 1 | width 2 | both check_pair bugs
    engine, _, _ = store_parts(store)
    try:
        pid = project_id(engine, p.name)
        w1, w2, both = (old_key(crashes, n) for n in ("width1", "width2", "sites-a"))
        assert len({w1, w2, both}) == 3
        assert sorted(keyed(engine, pid).values()) == sorted([w1, w1, w2, both, both])
        set_state(store, p, both, "resolved", "1.0")
        add_ticket(engine, pid, both, "CORE-7")
        set_state(store, p, w1, "muted")
        set_state(store, p, w2, "resolved", "2.0")  # the later decision about the width bug
        before = tables(engine, pid)

        dry = coronerd(store, "regroup", "--dry-run", "--project", p.name)
        assert dry.returncode == 0, dry.stderr
        assert tables(engine, pid) == before  # a dry run changes nothing
        width, site_a, site_b = (server_key(crashes[n]) for n in ("width1", "sites-a", "sites-b"))
        out = dry.stdout
        assert f"{both[:16]} (2 objects) splits:" in out
        assert f"1 object → {site_a[:16]}" in out and f"1 object → {site_b[:16]}" in out
        gathered = sorted([w1, w2], key=lambda k: group_facts(engine, pid, k)["id"])
        assert f"merge into {width[:16]}: {gathered[0][:16]}, {gathered[1][:16]}" in out
        assert REASON in out
        assert "5 objects move, 1 split, 1 merge" in out

        done = coronerd(store, "regroup", "--project", p.name)
        assert done.returncode == 0, done.stderr
        assert "  done: 5 objects move" in done.stdout
        assert consistency(engine, pid) == []
        now = keyed(engine, pid)
        assert sorted(now.values()) == sorted([width, width, width, site_a, site_b])

        merged = group_facts(engine, pid, width)
        assert (merged["state"], merged["resolved_version"]) == ("resolved", "2.0")
        actions = [a for a, _ in merged["events"]]
        assert "mute" in actions and "resolve" in actions  # both old groups' history
        assert any(a == "merge" and REASON in d for a, d in merged["events"])
        for key in (site_a, site_b):  # both parts of the split keep the state and the ticket
            part = group_facts(engine, pid, key)
            assert (part["state"], part["resolved_version"], part["tickets"]) == (
                "resolved",
                "1.0",
                ["CORE-7"],
            )
        heir, other = sorted((site_a, site_b))
        assert any(a == "resolve" for a, _ in group_facts(engine, pid, heir)["events"])
        assert any(
            a == "split" and REASON in d for a, d in group_facts(engine, pid, other)["events"]
        )
        old_url = f"{store.url}/api/v1/projects/{p.name}/groups/{both}"
        assert httpx.get(old_url, headers=p.headers()).json()["merged_into"] == heir

        again = coronerd(store, "regroup", "--dry-run", "--project", p.name)
        assert "nothing to do" in again.stdout
    finally:
        engine.dispose()


def test_stripped_crash_before_and_after_its_twin_share_its_group(
    store: Server, crashes: dict[str, Snap]
) -> None:
    width = server_key(crashes["width1"])
    first, later = store.project(), store.project()
    for name in ("stripped", "width1", "stripped2"):  # stripped BEFORE its unstripped twin
        upload(store, first, crashes[name].again())
    for name in ("width1", "stripped"):  # and AFTER it
        upload(store, later, crashes[name].again())
    engine, _, _ = store_parts(store)
    try:
        later_id = project_id(engine, later.name)
        assert set(keyed(engine, later_id).values()) == {width}  # filled at ingest
        learned = _learned(engine, later_id)
        assert [len(v) > 0 for v in learned.values()] == [False, True]
        fills = next(v for v in learned.values() if v)
        assert any(f["function"] == ["set_width"] for f in fills)

        first_id = project_id(engine, first.name)
        assert len(set(keyed(engine, first_id).values())) == 1  # the alias joined them
        done = coronerd(store, "regroup", "--project", first.name)
        assert done.returncode == 0, done.stderr
        assert "symbols for build id" in done.stdout
        assert set(keyed(engine, first_id).values()) == {width}  # keyed by the named crash
        assert [bool(v) for v in _learned(engine, first_id).values()] == [True, False, True]
        assert consistency(engine, first_id) == []
        assert group_facts(engine, first_id, width)["frames"].endswith("!set_width")
    finally:
        engine.dispose()


def _learned(engine: Engine, pid: int) -> dict[int, list[dict[str, object]]]:
    """object id -> what learned symbols filled in, in upload order."""
    with engine.connect() as conn:
        q = select(objects.c.id, objects.c.learned).where(objects.c.project_id == pid)
        return {i: json.loads(v) if v else [] for i, v in conn.execute(q.order_by(objects.c.id))}


def test_a_build_without_debug_info_joins_its_twin_by_alias(
    store: Server, crashes: dict[str, Snap]
) -> None:
    assert server_key(crashes["nodebug"]) != server_key(crashes["width1"])
    for order in (("width1", "nodebug"), ("nodebug", "width1")):
        p = store.project()
        replies = [upload(store, p, crashes[name].again()) for name in order]
        assert replies[0]["group"] == replies[1]["group"] == server_key(crashes[order[0]])
        engine, _, _ = store_parts(store)
        try:
            facts = group_facts(engine, project_id(engine, p.name), replies[0]["group"])
        finally:
            engine.dispose()
        assert facts["count"] == 2
        assert any("joined (alias" in d for _, d in facts["events"])


def test_an_alias_never_joins_a_crash_in_another_function(
    store: Server, crashes: dict[str, Snap]
) -> None:
    p = store.project()
    upload(store, p, crashes["width1"].again())
    # The same pc offset in another build of the program is other code: rename the function.
    doc = json.loads(json.dumps(crashes["nodebug"].doc))
    frame = next(t for t in doc["threads"] if t.get("crashed"))["frames"][0]
    frame["function"] = "resize_box"
    other = Snap("renamed", doc)
    reply = upload(store, p, other.again())
    assert reply["group"] == server_key(other) != server_key(crashes["width1"])


def test_an_unmerged_alias_join_stays_apart(store: Server, crashes: dict[str, Snap]) -> None:
    p = store.project()
    upload(store, p, crashes["width1"].again())
    upload(store, p, crashes["nodebug"].again())
    nodebug = server_key(crashes["nodebug"])
    url = f"{store.url}/api/v1/projects/{p.name}/groups/{nodebug}"
    assert httpx.post(url + "/unmerge", headers=p.headers()).status_code == 200
    assert upload(store, p, crashes["nodebug"].again())["group"] == nodebug
    assert httpx.get(url, headers=p.headers()).json()["count"] == 2


def test_regroup_of_an_unknown_project_says_so(store: Server, tmp_path: Path) -> None:
    done = coronerd(store, "regroup", "--dry-run", "--project", f"nope{uuid.uuid4().hex[:6]}")
    assert done.returncode == 1 and "no project" in done.stderr
