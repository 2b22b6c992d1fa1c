"""``coronerd regroup`` killed with -9 mid-way, and uploads arriving while it runs, on SQLite and
PostgreSQL: every transaction leaves the store consistent and a rerun finishes the job."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.store.coronerd_server import Project, Server
from tests.store.regroup_crashes import (
    Snap,
    add_ticket,
    consistency,
    coronerd,
    expected_keys,
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
    upload,
)

NAMES = ("width1", "width2", "sites-a", "sites-b")


@pytest.fixture(scope="module")
def crashes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Snap]:
    return make_crashes(tmp_path_factory.mktemp("regroup-durability"))


def _stored(store: Server, p: Project, crashes: dict[str, Snap], copies: int) -> dict[str, str]:
    """``copies`` uploads of each crash of :data:`NAMES` by hosts running the older version;
    object id -> crash name."""
    sent = {}
    for _ in range(copies):
        for name in NAMES:
            sent[upload(store, p, from_old_client(crashes, name))["object"]] = name
    return sent


def _start(store: Server, p: Project) -> subprocess.Popen[str]:
    """``coronerd regroup`` of the project, one object per transaction (many transactions)."""
    cmd = [sys.executable, "-m", "coresnap.cli.coronerd", "-c", str(store.config)]
    return subprocess.Popen(
        [*cmd, "regroup", "--project", p.name, "--batch", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_kill_9_during_regroup_leaves_it_consistent_and_a_rerun_finishes(
    store: Server, crashes: dict[str, Snap]
) -> None:
    p = store.project()
    sent = _stored(store, p, crashes, 15)
    group_as_old_version(store, p, crashes)
    both = old_key(crashes, "sites-a")
    set_state(store, p, both, "resolved", "1.0")
    engine, _, _ = store_parts(store)
    try:
        pid = project_id(engine, p.name)
        expected = expected_keys(engine, pid, sent, crashes)
        add_ticket(engine, pid, both, "CORE-9")
        interrupted = 0
        for _ in range(3):
            proc = _start(store, p)
            assert proc.stderr is not None
            for line in proc.stderr:  # plain progress lines: not a terminal
                if "moving objects" in line:
                    break
            time.sleep(random.uniform(0, 0.3))
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=60)
            interrupted += proc.returncode == -signal.SIGKILL
            assert consistency(engine, pid) == []
            assert sorted(keyed(engine, pid)) == sorted(sent)  # nothing lost, nothing doubled
        assert interrupted >= 1
        done = coronerd(store, "regroup", "--project", p.name)
        assert done.returncode == 0, done.stderr
        assert consistency(engine, pid) == []
        assert keyed(engine, pid) == expected  # kept snapshots by key, the others follow
        for name in ("sites-a", "sites-b"):
            part = group_facts(engine, pid, server_key(crashes[name]))
            assert (part["state"], part["resolved_version"]) == ("resolved", "1.0")
            assert part["tickets"] == ["CORE-9"]
        assert (
            "nothing to do" in coronerd(store, "regroup", "--dry-run", "--project", p.name).stdout
        )
    finally:
        engine.dispose()


def test_uploads_during_regroup_end_in_their_groups(
    store: Server, crashes: dict[str, Snap]
) -> None:
    p = store.project()
    sent = _stored(store, p, crashes, 12)
    group_as_old_version(store, p, crashes)
    engine, _, _ = store_parts(store)
    expected = expected_keys(engine, project_id(engine, p.name), sent, crashes)
    engine.dispose()
    proc = _start(store, p)
    assert proc.stdout is not None
    for line in proc.stdout:  # the plan is printed: uploads from now on meet its moves
        if "objects move" in line:
            break
    more: dict[str, str] = {}
    meanwhile = []
    lock = threading.Lock()

    def client(n: int) -> None:
        rng = random.Random(n)
        while proc.poll() is None or len(more) < 24:
            name = rng.choice(NAMES)
            oid = upload(store, p, crashes[name].again())["object"]
            with lock:
                more[oid] = name
                meanwhile.append(proc.poll() is None)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    out, err = proc.communicate(timeout=600)
    for t in threads:
        t.join(120)
    assert proc.returncode == 0, err
    assert "moving objects" in err and any(meanwhile)
    engine, _, _ = store_parts(store)
    try:
        pid = project_id(engine, p.name)
        assert consistency(engine, pid) == []
        now = keyed(engine, pid)
        assert sorted(now) == sorted({**sent, **more})
        assert {oid: now[oid] for oid in sent} == expected
        for oid, name in more.items():  # uploaded meanwhile: keyed by this coronerd
            assert now[oid] == server_key(crashes[name]), (oid, name)
        assert (
            "nothing to do" in coronerd(store, "regroup", "--dry-run", "--project", p.name).stdout
        )
    finally:
        engine.dispose()
