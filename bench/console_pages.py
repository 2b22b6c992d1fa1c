"""The console at 100k objects: project and group page load times over real HTTP, on SQLite
and on PostgreSQL.

A SQLite store is filled with N objects (default 100k; CORESNAP_BENCH_CONSOLE_N) in 500 groups
(Zipf-like sizes), 20 applications, 200 hosts, 8 versions, two classification labels each, over
30 days — the rows ``ingest`` writes (objects, one attributes row per attribute and label, group
counters), inserted in bulk, plus a few objects through the real ingest path so groups have a
stored snapshot; then the same on a fresh PostgreSQL database. A real ``coronerd serve`` answers
a signed-in client; each page is fetched 5 times after one warm-up and the median and worst are
reported, with the server-side time the project page prints.
"""

from __future__ import annotations

import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, insert, select, update

from bench._databases import on_both
from coresnap.store import auth, config, ingest
from coresnap.store.blobs import LocalBlobs
from coresnap.store.console import users
from coresnap.store.db.engine import make_engine, upgrade, writing
from coresnap.store.db.models import attributes, groups, objects

ROOT = Path(__file__).resolve().parent.parent
N = int(os.environ.get("CORESNAP_BENCH_CONSOLE_N", "100000"))
APPS = [f"app{i}" for i in range(20)]
HOSTS = [f"host{i:03d}" for i in range(200)]
VERSIONS = [f"2.{i}" for i in range(8)]
LABELS = [("null-deref", "memory.read"), ("use-after-free", "memory.write"), ("abort", "assert")]
FPS = [f"{i:064x}" for i in range(1, 501)]
PASSWORD = "bench-password"


def _fill(cfg: config.StoreConfig, n: int) -> int:
    engine = make_engine(cfg.database_url)
    upgrade(engine)
    rng, now = random.Random(7), time.time()
    weights = [1 / (i + 1) for i in range(len(FPS))]
    with writing(engine.connect()) as conn, conn.begin():
        pid = auth.create_project(conn, "bench")
        users.create_user(conn, "bench", PASSWORD, admin=True)
        gids = {}
        for i, fp in enumerate(FPS):
            row = conn.execute(
                insert(groups).values(
                    project_id=pid,
                    fingerprint=fp,
                    first_seen=now,
                    last_seen=now,
                    count=0,
                    state="open",
                    frames=f"crash_site_{i}\ncaller_{i % 37}\nmain",
                )
            )
            gids[fp] = int(row.inserted_primary_key[0])  # type: ignore[index]
    for start in range(0, n, 5000):
        with writing(engine.connect()) as conn, conn.begin():
            first = (conn.execute(select(func.max(objects.c.id))).scalar() or 0) + 1
            objs, attrs = [], []
            for k in range(start, min(n, start + 5000)):
                oid = first + k - start
                fp = rng.choices(FPS, weights)[0]
                app, host, ver = rng.choice(APPS), rng.choice(HOSTS), rng.choice(VERSIONS)
                labels = LABELS[FPS.index(fp) % len(LABELS)]
                ts = now - rng.random() * 30 * 86400
                objs.append(
                    dict(
                        id=oid,
                        project_id=pid,
                        oid=f"{oid:032x}",
                        group_id=gids[fp],
                        fingerprint=fp,
                        timestamp=ts,
                        received=ts,
                        application=app,
                        hostname=host,
                        classification=" ".join(labels),
                        version=ver,
                        size=3000,
                        blob_key=None,
                        blob_kept=False,
                    )
                )
                for key, value in (
                    ("application", app),
                    ("hostname", host),
                    ("version", ver),
                    ("signal", "SIGSEGV"),
                ):
                    attrs.append(dict(object_id=oid, key=key, value_text=value, value_num=None))
                for label in labels:
                    attrs.append(
                        dict(object_id=oid, key="classification", value_text=label, value_num=None)
                    )
            conn.execute(insert(objects), objs)
            conn.execute(insert(attributes), attrs)
    with writing(engine.connect()) as conn, conn.begin():
        if conn.dialect.name == "postgresql":  # explicit ids did not move the id sequence
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('objects', 'id'), max(id)) FROM objects"
            )
            conn.exec_driver_sql("ANALYZE")
        stats = select(
            objects.c.group_id,
            func.count(),
            func.min(objects.c.timestamp),
            func.max(objects.c.timestamp),
        ).group_by(objects.c.group_id)
        for gid, count, lo, hi in conn.execute(stats).all():
            conn.execute(
                update(groups)
                .where(groups.c.id == gid)
                .values(count=count, first_seen=lo, last_seen=hi)
            )
    engine.dispose()
    return pid


def _real_objects(cfg: config.StoreConfig, pid: int) -> None:
    """Five objects of the biggest group through ingest.store (a stored snapshot to show)."""
    from tests.store.store_snapshots import compress, make_snapshot

    engine = make_engine(cfg.database_url)
    for _ in range(5):
        snap = make_snapshot(application="app0", hostname="host000", fingerprint=FPS[0])
        ingest.store(
            engine, LocalBlobs(Path(cfg["blobs.path"])), cfg, (pid, "bench"), compress(snap), {}
        )
    engine.dispose()


def _time(client: httpx.Client, path: str, runs: int = 5) -> dict[str, Any]:
    client.get(path)
    times, server = [], []
    for _ in range(runs):
        t = time.perf_counter()
        r = client.get(path)
        times.append(time.perf_counter() - t)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        m = re.search(r"· (\d+) ms</p>", r.text)
        if m:
            server.append(int(m.group(1)))
    return {
        "median": statistics.median(times),
        "worst": max(times),
        "server": statistics.median(server) if server else None,
    }


PAGES = {
    "project, last seen": "/p/bench",
    "project, by count": "/p/bench?sort=count",
    "project, application=app3": "/p/bench?q=application%3Dapp3",
    "project, hostname regex, 7d": "/p/bench?q=hostname,regular-expression,7%24&age=7d",
    "project, classification label": "/p/bench?q=classification%3Dabort",
    "group (largest)": f"/p/bench/g/{FPS[0]}",
}


def _serve(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = 8000 + os.getpid() % 1000
    argv = ["-m", "coresnap.cli.coronerd", "-c", str(work / "coronerd.toml"), "serve"]
    proc = subprocess.Popen([sys.executable, *argv, "--port", str(port)], cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            httpx.get(url + "/api/v1/health", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.2)
    return proc, url


def _one(kind: str, database: str, work: Path) -> None:
    (work / "coronerd.toml").write_text(
        f'[database]\nurl = "{database}"\n[blobs]\npath = "{work}/blobs"\n'
    )
    cfg = config.load(work / "coronerd.toml")
    t = time.perf_counter()
    pid = _fill(cfg, N)
    _real_objects(cfg, pid)
    print(f"   {kind}: filled {N} objects in {time.perf_counter() - t:.1f} s (bulk rows)")
    proc, url = _serve(work)
    try:
        client = httpx.Client(base_url=url, timeout=120)
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        assert csrf
        form = {"name": "bench", "password": PASSWORD, "csrf": csrf.group(1)}
        assert client.post("/login", data=form).status_code == 303
        print(f"   {kind + ' page':34} {'median':>8} {'worst':>8} {'server':>8}")
        for name, path in PAGES.items():
            r = _time(client, path)
            server = f"{r['server']} ms" if r["server"] is not None else ""
            median, worst = r["median"] * 1000, r["worst"] * 1000
            print(f"   {name:34} {median:6.0f} ms {worst:6.0f} ms {server:>8}", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main() -> None:
    on_both(_one, prefix="bench-console-")


if __name__ == "__main__":
    main()
