"""coronerd: ingest rate and query latency at 100k objects, on SQLite and on PostgreSQL.

Ingest is measured on the real path — in-process (``ingest.store``: decompress, schema
validation, index, sampled blob write), over HTTP (a real coronerd, 8 client threads, 500
fingerprints) and as a storm over HTTP (16 client threads, one fingerprint, so storage sampling
drops nearly every blob) — on a few thousand objects (CORESNAP_BENCH_STORE_FULL, 2000). The store is then filled to 100k objects with bulk inserts of the same
rows (the full path at ~100/s would take longer than a benchmark should), and the queries
``coroner list`` makes are timed: group by fingerprint with a histogram and distributions, the
same filtered (application = …), and a regular-expression filter. Medians of 5 runs.
Set CORESNAP_BENCH_STORE_N to change the 100k.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import zstandard
from sqlalchemy import insert, select, text

from bench._databases import on_both
from coresnap.store import aggregate, auth, config, ingest
from coresnap.store.blobs import LocalBlobs
from coresnap.store.db.engine import is_sqlite, make_engine, upgrade, writing
from coresnap.store.db.models import attributes, groups, objects
from coresnap.store.query import Aggregate, Filter, Query

ROOT = Path(__file__).resolve().parent.parent
N = int(os.environ.get("CORESNAP_BENCH_STORE_N", "100000"))
FULL_PATH = int(os.environ.get("CORESNAP_BENCH_STORE_FULL", "2000"))
APPS = [f"app{i}" for i in range(20)]
HOSTS = [f"host{i:03d}" for i in range(200)]
FPS = [f"{i:064x}" for i in range(500)]


def _snapshot(rng: random.Random, ts: float, fps: list[str] = FPS) -> dict[str, Any]:
    from tests.store.store_snapshots import make_snapshot

    return make_snapshot(
        application=rng.choice(APPS),
        hostname=rng.choice(HOSTS),
        fingerprint=rng.choice(fps),
        timestamp=ts,
        version=f"1.{rng.randrange(9)}",
    )


def _full_path(cfg: config.StoreConfig, work: Path) -> float:
    engine = make_engine(cfg.database_url)
    with writing(engine.connect()) as conn, conn.begin():
        pid = auth.create_project(conn, "inproc")
    rng = random.Random(1)
    import json

    bodies = [
        zstandard.compress(json.dumps(_snapshot(rng, time.time())).encode())
        for _ in range(FULL_PATH)
    ]
    blobs = LocalBlobs(work / "blobs")
    started = time.perf_counter()
    for body in bodies:
        ingest.store(engine, blobs, cfg, (pid, "inproc"), body, {})
    return FULL_PATH / (time.perf_counter() - started)


def _http(
    cfg_path: Path,
    cfg: config.StoreConfig,
    name: str = "http",
    fps: list[str] = FPS,
    clients: int = 8,
) -> float:
    """Uploads/s of ``clients`` threads to a real coronerd (``fps``: their fingerprints)."""
    from coresnap.client.api import put_body
    from coresnap.client.http import Client

    engine = make_engine(cfg.database_url)
    with writing(engine.connect()) as conn, conn.begin():
        auth.create_project(conn, name)
        token = auth.create_token(conn, name, "t", {"submit"})
    engine.dispose()
    port = 20000 + (os.getpid() + len(name)) % 20000
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "coresnap.cli.coronerd",
            "-c",
            str(cfg_path),
            "serve",
            "--port",
            str(port),
        ]
    )
    try:
        import json

        rng = random.Random(2)
        bodies = [
            zstandard.compress(json.dumps(_snapshot(rng, time.time(), fps)).encode())
            for _ in range(FULL_PATH)
        ]
        url = f"http://127.0.0.1:{port}"
        with Client(url, token, retries=30) as c:
            c.request("GET", "/api/v1/health")
        started = time.perf_counter()

        def run(part: list[bytes]) -> None:
            with Client(url, token) as c:
                for body in part:
                    put_body(c, name, body)

        threads = [threading.Thread(target=run, args=(bodies[i::clients],)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return FULL_PATH / (time.perf_counter() - started)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _fill(cfg: config.StoreConfig, n: int) -> tuple[int, float]:
    """Bulk-insert ``n`` objects (rows as ingest writes them) into project "bulk"."""
    engine = make_engine(cfg.database_url)
    rng = random.Random(3)
    now = time.time()
    started = time.perf_counter()
    with writing(engine.connect()) as conn, conn.begin():
        pid = auth.create_project(conn, "bulk")
        gids = {}
        for fp in FPS:
            row = conn.execute(
                insert(groups).values(
                    project_id=pid,
                    fingerprint=fp,
                    first_seen=now,
                    last_seen=now,
                    count=0,
                    state="open",
                    frames="thread_fn\nstart_thread",
                    sample_period=0,
                    sample_kept=0,
                    sample_minute=0,
                    sample_minute_kept=0,
                    sample_hour=0,
                    sample_hour_kept=0,
                )
            )
            gids[fp] = row.inserted_primary_key[0]  # type: ignore[index]
    next_id = 1
    with engine.connect() as conn:
        next_id = (
            conn.execute(select(objects.c.id).order_by(objects.c.id.desc())).scalar() or 0
        ) + 1
    for chunk in range(0, n, 5000):
        objs, attrs = [], []
        for i in range(chunk, min(n, chunk + 5000)):
            oid_row = next_id + i
            fp, app, host = rng.choice(FPS), rng.choice(APPS), rng.choice(HOSTS)
            ts = now - rng.random() * 30 * 86400
            objs.append(
                dict(
                    id=oid_row,
                    project_id=pid,
                    oid=uuid.uuid4().hex,
                    group_id=gids[fp],
                    fingerprint=fp,
                    timestamp=ts,
                    received=ts,
                    application=app,
                    hostname=host,
                    classification="memory.write use-after-free",
                    version="1.2",
                    size=4000,
                    blob_key=None,
                    blob_kept=False,
                )
            )
            for k, v, num in (
                ("application", app, None),
                ("hostname", host, None),
                ("version", "1.2", 1.2),
                ("classification", "memory.write", None),
                ("classification", "use-after-free", None),
                ("load", str(i % 100), float(i % 100)),
            ):
                attrs.append(dict(object_id=oid_row, key=k, value_text=v, value_num=num))
        with writing(engine.connect()) as conn, conn.begin():
            conn.execute(insert(objects), objs)
            conn.execute(insert(attributes), attrs)
    rate = n / (time.perf_counter() - started)
    if not is_sqlite(engine):
        # What autovacuum does after a bulk load (SQLite never analyzes by itself).
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
    return int(pid), rate


def _time(engine: Any, pid: int, q: Query) -> str:
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        try:
            aggregate.run(engine, pid, q)
        except Exception as e:  # noqa: BLE001 - one failed query must not hide the others
            return f"FAILED ({type(e).__name__}: {str(e).splitlines()[0][:120]})"
        runs.append(time.perf_counter() - started)
    return f"{statistics.median(runs) * 1000:.0f} ms"


def _queries(cfg: config.StoreConfig, pid: int) -> dict[str, str]:
    engine = make_engine(cfg.database_url)
    listing = [
        Aggregate("histogram"),
        Aggregate("distribution", "hostname"),
        Aggregate("distribution", "application"),
        Aggregate("distribution", "classification", 10),
    ]
    return {
        "group by fingerprint + histogram + distributions (top 10 groups, 3 objects)": _time(
            engine, pid, Query(aggregates=listing, limit=10, objects=3)
        ),
        "same, filtered application=app3": _time(
            engine,
            pid,
            Query(
                filters=[Filter("application", "equal", "app3")],
                aggregates=listing,
                limit=10,
                objects=3,
            ),
        ),
        "filtered load at-least 90 (attributes table), histogram": _time(
            engine,
            pid,
            Query(
                filters=[Filter("load", "at-least", "90")],
                aggregates=[Aggregate("histogram")],
                limit=10,
            ),
        ),
        "regex hostname ^host0[0-4]7$, group by application": _time(
            engine,
            pid,
            Query(
                filters=[Filter("hostname", "regular-expression", "^host0[0-4]7$")],
                factor="application",
                aggregates=[Aggregate("histogram")],
            ),
        ),
    }


def _one(kind: str, url: str, work: Path) -> None:
    cfg_path = work / "coronerd.toml"
    cfg_path.write_text(f'[database]\nurl = "{url}"\n[blobs]\npath = "blobs"\n')
    cfg = config.load(cfg_path)
    upgrade(make_engine(cfg.database_url))
    inproc = _full_path(cfg, work)
    http = _http(cfg_path, cfg)
    storm = _http(cfg_path, cfg, "storm", FPS[:1], 16)
    pid, fill = _fill(cfg, N)
    print(
        f"   {kind}: ingest full path in-process {inproc:.0f} objects/s, over HTTP (8 clients) "
        f"{http:.0f} objects/s; storm over HTTP (16 clients, one group: blobs sampled out) "
        f"{storm:.0f} objects/s; bulk fill {fill:.0f} rows/s",
        flush=True,
    )
    for name, took in _queries(cfg, pid).items():
        print(f"   {kind} @ {N} objects: {name}: {took}", flush=True)


def main() -> None:
    on_both(_one, prefix="bench-store-")


if __name__ == "__main__":
    main()
