"""Real crashes for the regroup tests, and what those tests check a store with.

``programs/regroup_bugs.c`` is built with ``-g -O2``; a stripped copy (same build id) and a
``-O2`` build without ``-g`` (same code, other build id) sit in directories of their own under
the same file name, as on two hosts. Every crash is a real core of the real kernel turned into a
snapshot by ``coresnap snapshot``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import zstandard
from sqlalchemy import Engine, func, insert, select, update

from coresnap.analysis.fingerprint import VERSION
from coresnap.store import config, fingerprints, regroup, symbols
from coresnap.store.blobs import BlobStore, open_blobs
from coresnap.store.config import StoreConfig
from coresnap.store.db.engine import make_engine, writing
from coresnap.store.db.models import (
    alert_targets,
    group_events,
    group_tickets,
    groups,
    objects,
    projects,
)
from coresnap.store.regroup.read import KeyFunction
from tests.crashes import build, crash
from tests.run_cli import coresnap
from tests.store.coronerd_server import Project, Server

PROGRAM = Path(__file__).parent / "programs" / "regroup_bugs.c"
# name -> (build, argv, stdin): which program crashes how
RUNS: dict[str, tuple[str, list[str], bytes | None]] = {
    "width1": ("debug", ["width", "1"], None),
    "width2": ("debug", ["width", "2"], None),
    "sites-a": ("debug", ["sites"], b"a"),
    "sites-b": ("debug", ["sites"], b"b"),
    "stripped": ("stripped", ["width", "3"], None),
    "stripped2": ("stripped", ["width", "4"], None),
    "nodebug": ("nodebug", ["width", "5"], None),
}


@dataclass(frozen=True)
class Snap:
    name: str
    doc: dict[str, Any]

    def body(self, **changes: Any) -> bytes:
        """The snapshot, compressed as a client sends it; with ``changes`` (a new uuid: another
        upload of the same crash)."""
        return zstandard.compress(json.dumps({**self.doc, **changes}).encode())

    def again(self) -> bytes:
        """Another occurrence of this crash (the same snapshot under a new object id)."""
        return self.body(uuid=uuid.uuid4().hex)


def make_crashes(work: Path) -> dict[str, Snap]:
    """Every run of :data:`RUNS`, crashed for real, as a snapshot."""
    debug = build(PROGRAM, flags=("-g", "-O2"))
    exes = {"debug": debug}
    for kind, flags in (("stripped", None), ("nodebug", ("-O2",))):
        (work / kind).mkdir(parents=True, exist_ok=True)
        exe = work / kind / debug.name  # the same file name on "another host"
        if flags is None:
            subprocess.run(["strip", "-o", str(exe), str(debug)], check=True)
        else:
            shutil.copy2(build(PROGRAM, flags=flags), exe)
        exes[kind] = exe
    out = {}
    for name, (kind, argv, stdin) in RUNS.items():
        c = crash(exes[kind], argv, cwd=work / name, stdin=stdin, expect_signal=11)
        snap = work / name / "crash.snap"
        done = coresnap("snapshot", "-o", str(snap), str(c.core), str(c.exe))
        assert done.returncode == 0, done.stderr
        out[name] = Snap(name, json.loads(zstandard.decompress(snap.read_bytes())))
    return out


def server_key(snap: Snap) -> str:
    """The key this coresnap's fingerprint gives the snapshot (no learned symbols)."""
    return fingerprints.compute(snap.doc).hash


# How an older fingerprint version grouped these crashes: the width bug split by its argument
# (as v1 split a bug by its outer callers), both stores of check_pair in one group (as v1 merged
# two bugs of one function).
OLD_GROUPS = {
    "width1": "width 1",
    "width2": "width 2",
    "sites-a": "check_pair",
    "sites-b": "check_pair",
    "stripped": "width 3",
    "stripped2": "width 4",
    "nodebug": "width 5",
}


def old_keys(crashes: dict[str, Snap]) -> KeyFunction:
    """The key function of the older version: :data:`OLD_GROUPS`, the crash told by its pid."""
    names = {snap.doc["process"]["pid"]: name for name, snap in crashes.items()}

    def key(doc: dict[str, Any], _known: symbols.Symbols | None) -> fingerprints.ServerPrint:
        group = OLD_GROUPS[names[doc["process"]["pid"]]]
        digest = hashlib.sha256(f"old\n{group}".encode()).hexdigest()
        return fingerprints.ServerPrint(digest, VERSION - 1, [group])

    return key


def old_key(crashes: dict[str, Snap], name: str) -> str:
    """The key the older version gave crash ``name``."""
    return old_keys(crashes)(crashes[name].doc, None).hash


def from_old_client(crashes: dict[str, Snap], name: str) -> bytes:
    """Another occurrence of crash ``name`` as a host running the older version sends it: with
    that version's fingerprint."""
    fp = old_keys(crashes)(crashes[name].doc, None)
    sent = {"hash": fp.hash, "version": fp.version, "frames": fp.frames}
    return crashes[name].body(uuid=uuid.uuid4().hex, fingerprint=sent)


def upload(store: Server, p: Project, body: bytes) -> dict[str, Any]:
    reply = httpx.post(
        f"{store.url}/api/v1/projects/{p.name}/objects",
        content=body,
        headers=p.headers(),
        timeout=60,
    )
    assert reply.status_code in (200, 201), reply.text
    return dict(reply.json())


def coronerd(store: Server, *args: str) -> subprocess.CompletedProcess[str]:
    """``coronerd -c <the store's config> ARGS`` as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "coresnap.cli.coronerd", "-c", str(store.config), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def project_id(engine: Engine, name: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(projects.c.id).where(projects.c.name == name)).scalar_one())


def consistency(engine: Engine, pid: int) -> list[str]:
    """What is wrong with the project's groups (nothing: []): objects in merged groups, counts
    that are not their objects, merged rows pointing at merged rows."""
    problems = []
    with engine.connect() as conn:
        rows = {
            r["id"]: r
            for r in conn.execute(select(groups).where(groups.c.project_id == pid)).mappings()
        }
        counted: dict[int, int] = dict(
            conn.execute(
                select(objects.c.group_id, func.count())
                .where(objects.c.project_id == pid)
                .group_by(objects.c.group_id)
            ).all()
        )
    for gid, n in counted.items():
        if rows[gid]["merged_into"] is not None:
            problems.append(f"{n} objects in merged group {gid}")
    for gid, g in rows.items():
        if g["merged_into"] is None and g["count"] != counted.get(gid, 0):
            problems.append(f"group {gid} counts {g['count']}, has {counted.get(gid, 0)}")
        elif g["merged_into"] is not None and rows[g["merged_into"]]["merged_into"] is not None:
            problems.append(f"group {gid} merged into merged group {g['merged_into']}")
    return problems


def keyed(engine: Engine, pid: int) -> dict[str, str]:
    """object id -> the key of the group it is in."""
    with engine.connect() as conn:
        q = (
            select(objects.c.oid, groups.c.fingerprint)
            .join(groups, groups.c.id == objects.c.group_id)
            .where(objects.c.project_id == pid)
        )
        return {oid: key for oid, key in conn.execute(q)}


def store_parts(store: Server) -> tuple[Engine, BlobStore, StoreConfig]:
    """The store's database, blob store and settings, as ``coronerd`` opens them."""
    cfg = config.load(store.config)
    return make_engine(store.database_url), open_blobs(cfg), cfg


def group_as_old_version(store: Server, p: Project, crashes: dict[str, Snap]) -> None:
    """Make the project's objects look as a coronerd of the older fingerprint version stored
    them: grouped by :data:`OLD_GROUPS`, each keyed by its group's key, no version recorded
    (the client's key, before migration 0004)."""
    engine, blobs, cfg = store_parts(store)
    try:
        pid = project_id(engine, p.name)
        plan = regroup.make_plan(engine, blobs, cfg, (pid, p.name), key=old_keys(crashes))
        regroup.carry_out(engine, plan, 500)
        with writing(engine.connect()) as conn, conn.begin():
            key_of_group = (
                select(groups.c.fingerprint)
                .where(groups.c.id == objects.c.group_id)
                .scalar_subquery()
            )
            conn.execute(
                update(objects)
                .where(objects.c.project_id == pid)
                .values(fingerprint=key_of_group, fp_version=None, learned=None)
            )
    finally:
        engine.dispose()


def expected_keys(
    engine: Engine, pid: int, sent: dict[str, str], crashes: dict[str, Snap]
) -> dict[str, str]:
    """object id -> the key of the group regroup must put it in: its crash's key when its
    snapshot was kept; else its old group's *heir*, the key most of that group's kept objects
    get (ties: the smallest key), as docs/store.md says."""
    with engine.connect() as conn:
        kept = {
            oid: bool(b)
            for oid, b in conn.execute(
                select(objects.c.oid, objects.c.blob_kept).where(objects.c.project_id == pid)
            )
        }
    crashes_keys = {name: server_key(snap) for name, snap in crashes.items()}
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for oid, name in sent.items():
        if kept[oid]:
            votes[OLD_GROUPS[name]][crashes_keys[name]] += 1
    heir = {old: min(c, key=lambda k: (-c[k], k)) for old, c in votes.items()}
    return {
        oid: crashes_keys[name] if kept[oid] else heir[OLD_GROUPS[name]]
        for oid, name in sent.items()
    }


def set_state(store: Server, p: Project, key: str, state: str, version: str | None = None) -> None:
    """A person sets a group's state through the API (read token)."""
    reply = httpx.post(
        f"{store.url}/api/v1/projects/{p.name}/groups/{key}/state",
        json={"state": state, "version": version},
        headers=p.headers(),
    )
    assert reply.status_code == 200, reply.text


def add_ticket(engine: Engine, pid: int, key: str, ticket: str) -> None:
    """A JIRA issue for group ``key``, recorded as the JIRA alert target records one."""
    now = time.time()
    with writing(engine.connect()) as conn, conn.begin():
        target = conn.execute(
            insert(alert_targets).values(
                project_id=pid,
                name=f"jira-{ticket}",
                kind="jira",
                settings="{}",
                events="new-group",
                min_interval=0.0,
                enabled=True,
                created=now,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        gid = conn.execute(
            select(groups.c.id).where(groups.c.project_id == pid, groups.c.fingerprint == key)
        ).scalar_one()
        conn.execute(
            insert(group_tickets).values(
                group_id=gid, target_id=target, key=ticket, url=None, created=now
            )
        )


def group_facts(engine: Engine, pid: int, key: str) -> dict[str, Any]:
    """Group ``key``'s row (its effective group's), tickets and history (action, detail)."""
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(groups).where(groups.c.project_id == pid, groups.c.fingerprint == key)
            )
            .mappings()
            .one()
        )
        gid = row["merged_into"] or row["id"]
        g = conn.execute(select(groups).where(groups.c.id == gid)).mappings().one()
        tickets = sorted(
            conn.execute(
                select(group_tickets.c.key).where(group_tickets.c.group_id == gid)
            ).scalars()
        )
        events = [
            (a, d or "")
            for a, d in conn.execute(
                select(group_events.c.action, group_events.c.detail)
                .where(group_events.c.group_id == gid)
                .order_by(group_events.c.at, group_events.c.id)
            )
        ]
    return {**dict(g), "tickets": tickets, "events": events}


def tables(engine: Engine, pid: int) -> tuple[list[Any], list[Any]]:
    """The project's group and object rows, to show a dry run changes nothing."""
    with engine.connect() as conn:
        g = conn.execute(select(groups).where(groups.c.project_id == pid).order_by(groups.c.id))
        o = conn.execute(select(objects).where(objects.c.project_id == pid).order_by(objects.c.id))
        return [tuple(r) for r in g], [tuple(r) for r in o]
