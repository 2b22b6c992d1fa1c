"""Function keys in the store, over SQLite and PostgreSQL, with real crashes: a build without line
tables (-O2, no -g) joins the group of its bug's build with lines (-O0 -g, other code, so no
address alias can) while that group is the only one of its function, and stays apart once two
bugs of that function are known. ``coronerd regroup`` plans what ingest did."""

from __future__ import annotations

import hashlib
import json
import shutil
from typing import Any

import pytest
import zstandard
from sqlalchemy import select, update

from coresnap.analysis.fingerprint import VERSION
from coresnap.store import fingerprints, regroup
from coresnap.store.db.engine import writing
from coresnap.store.db.models import groups, objects
from tests.crashes import build, crash
from tests.run_cli import coresnap
from tests.store.coronerd_server import Server
from tests.store.regroup_crashes import (
    PROGRAM,
    Snap,
    consistency,
    coronerd,
    group_facts,
    keyed,
    project_id,
    server_key,
    store_parts,
    upload,
)

# name -> (build flags, argv, stdin)
RUNS: dict[str, tuple[tuple[str, ...], list[str], bytes | None]] = {
    "lined": (("-g", "-O0"), ["width", "1"], None),
    "lineless": (("-O2",), ["width", "2"], None),
    "lined-a": (("-g", "-O0"), ["sites"], b"a"),
    "lined-b": (("-g", "-O0"), ["sites"], b"b"),
    "lineless-a": (("-O2",), ["sites"], b"a"),
}


@pytest.fixture(scope="module")
def crashes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Snap]:
    work = tmp_path_factory.mktemp("function-keys")
    out = {}
    for name, (flags, argv, stdin) in RUNS.items():
        exe = work / "-".join(flags) / PROGRAM.stem  # one program's name on every host
        if not exe.exists():
            exe.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(build(PROGRAM, flags=flags), exe)
        c = crash(exe, argv, cwd=work / name, stdin=stdin, expect_signal=11)
        snap = work / name / "crash.snap"
        done = coresnap("snapshot", "-o", str(snap), str(c.core), str(c.exe))
        assert done.returncode == 0, done.stderr
        out[name] = Snap(name, json.loads(zstandard.decompress(snap.read_bytes())))
    return out


def _fp(snap: Snap) -> dict[str, Any]:
    fp: dict[str, Any] = snap.doc["fingerprint"]
    return fp


def test_the_builds_differ_in_key_and_address_but_share_a_function_key(
    crashes: dict[str, Snap],
) -> None:
    lined, lineless = _fp(crashes["lined"]), _fp(crashes["lineless"])
    assert lined["hash"] != lineless["hash"]
    assert str(lined["site"]).startswith("regroup_bugs.c:")
    assert str(lineless["site"]).startswith("+0x")
    assert not set(lined["aliases"]) & set(lineless["aliases"])
    assert set(lined["weak"]) & set(lineless["weak"])


@pytest.mark.parametrize("order", [("lined", "lineless"), ("lineless", "lined")])
def test_a_build_without_lines_joins_the_only_group_of_its_function(
    store: Server, crashes: dict[str, Snap], order: tuple[str, str]
) -> None:
    p = store.project()
    replies = [upload(store, p, crashes[name].again()) for name in order]
    assert replies[0]["group"] == replies[1]["group"] == server_key(crashes[order[0]])
    engine, _, _ = store_parts(store)
    try:
        pid = project_id(engine, p.name)
        facts = group_facts(engine, pid, replies[0]["group"])
        assert facts["count"] == 2
        assert any("weak" in detail for _, detail in facts["events"])
        assert consistency(engine, pid) == []
        # What ingest joined, a regroup plans the same way: nothing moves.
        done = coronerd(store, "regroup", "--project", p.name, "--dry-run", "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout.splitlines()[0])["parts"] == []
    finally:
        engine.dispose()


def test_two_bugs_of_one_function_keep_a_crash_without_lines_apart(
    store: Server, crashes: dict[str, Snap]
) -> None:
    p = store.project()
    for name in ("lined-a", "lined-b", "lineless-a"):
        upload(store, p, crashes[name].again())
    engine, _, _ = store_parts(store)
    try:
        pid = project_id(engine, p.name)
        groups = set(keyed(engine, pid).values())
        assert groups == {server_key(crashes[n]) for n in ("lined-a", "lined-b", "lineless-a")}
        assert len(groups) == 3  # which of the two it is, a line would say: none here
        done = coronerd(store, "regroup", "--project", p.name, "--dry-run", "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout.splitlines()[0])["parts"] == []
    finally:
        engine.dispose()


def test_a_regroup_joins_what_came_before_the_function_keys(
    store: Server, crashes: dict[str, Snap]
) -> None:
    """Objects an older version grouped apart are joined by ``coronerd regroup``, the function
    key the reason in its plan."""
    p = store.project()
    for name in ("lineless", "lined"):
        upload(store, p, crashes[name].again())
    engine, blobs, cfg = store_parts(store)
    try:
        pid = project_id(engine, p.name)

        def apart(doc: dict[str, Any], _known: Any) -> fingerprints.ServerPrint:
            old = hashlib.sha256(f"old\n{doc['process']['pid']}".encode()).hexdigest()
            return fingerprints.ServerPrint(old, VERSION - 1, ["old"])

        regroup.carry_out(
            engine, regroup.make_plan(engine, blobs, cfg, (pid, p.name), key=apart), 500
        )
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
        assert len(set(keyed(engine, pid).values())) == 2
        done = coronerd(store, "regroup", "--project", p.name, "--json")
        assert done.returncode == 0, done.stderr
        parts = json.loads(done.stdout.splitlines()[0])["parts"]
        assert any(part["reason"].startswith("alias weak ") for part in parts), parts
        assert len(set(keyed(engine, pid).values())) == 1
        assert consistency(engine, pid) == []
    finally:
        engine.dispose()


def test_the_rules_in_one_place_are_order_free_once_all_crashes_are_seen() -> None:
    """``fold_mark``/``weak_joins`` are the function-key rules both ingest (one crash at a time)
    and the regroup planner (all at once) apply: the mark after every crash does not depend on
    their order, and who joins whom follows from it."""
    import itertools

    from coresnap.store.aliases import AMBIGUOUS, LINELESS, fold_mark, weak_joins

    cases = {
        ("+0x1f",): LINELESS,
        ("+0x1f", "+0x2a"): LINELESS,
        ("proto.c:59", "+0x1f"): "proto.c:59",
        ("proto.c:59", "proto.c:59", None): "proto.c:59",
        ("proto.c:59", "+0x1f", "proto.c:71"): AMBIGUOUS,
    }
    for sites, want in cases.items():
        for order in itertools.permutations(sites):
            mark = None
            for site in order:
                mark = fold_mark(mark, site)
            assert mark == want, order
    assert weak_joins("proto.c:59", "+0x1f") and weak_joins(LINELESS, "proto.c:59")
    assert not weak_joins("proto.c:59", "proto.c:71") and not weak_joins(LINELESS, "+0x2a")
    assert not weak_joins(AMBIGUOUS, "+0x1f") and not weak_joins(None, "+0x1f")
