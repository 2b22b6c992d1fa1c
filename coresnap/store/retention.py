"""Retention: objects older than ``retention.max_age`` or past ``retention.max_objects`` per
project are deleted — rows first (one transaction per batch, group counters recounted), then
their blobs, so a crash in between leaves unreferenced blobs, never rows without bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Connection, Engine, delete, func, select, update

from coresnap.store.blobs import BlobStore
from coresnap.store.config import StoreConfig
from coresnap.store.db.engine import writing
from coresnap.store.db.models import attachments, attributes, groups, objects, projects

_BATCH = 500


def apply(
    engine: Engine,
    blobs: BlobStore,
    config: StoreConfig,
    now: float | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> int:
    """Apply the retention limits to every project; returns the number of objects deleted.
    ``progress`` hears ("projects", done, total) after each project."""
    max_age, max_objects = config["retention.max_age"], config["retention.max_objects"]
    if max_age <= 0 and max_objects <= 0:
        return 0
    now = time.time() if now is None else now
    with engine.connect() as conn:
        pids = list(conn.execute(select(projects.c.id)).scalars())
    removed = 0
    for done, pid in enumerate(pids, 1):
        if max_age > 0:
            old = select(objects.c.id).where(
                objects.c.project_id == pid, objects.c.timestamp < now - max_age
            )
            removed += remove(engine, blobs, old)
        if max_objects > 0:
            newest = (
                select(objects.c.id)
                .where(objects.c.project_id == pid)
                .order_by(objects.c.timestamp.desc(), objects.c.id.desc())
                .limit(max_objects)
            )
            extra = select(objects.c.id).where(
                objects.c.project_id == pid, objects.c.id.not_in(newest.scalar_subquery())
            )
            removed += remove(engine, blobs, extra)
        if progress is not None:
            progress("projects", done, len(pids))
    return removed


def remove(engine: Engine, blobs: BlobStore, ids_query: object) -> int:
    """Delete the objects ``ids_query`` selects (rows, then blobs, by batches); returns how many."""
    total = 0
    while True:
        with writing(engine.connect()) as conn, conn.begin():
            ids = list(conn.execute(ids_query.limit(_BATCH)).scalars())  # type: ignore[attr-defined]
            if not ids:
                return total
            keys = _delete(conn, ids)
        for key in keys:
            blobs.delete(key)
        total += len(ids)


def _delete(conn: Connection, ids: list[int]) -> list[str]:
    keys = list(
        conn.execute(
            select(objects.c.blob_key).where(objects.c.id.in_(ids), objects.c.blob_key.is_not(None))
        ).scalars()
    )
    keys += list(
        conn.execute(
            select(attachments.c.blob_key).where(attachments.c.object_id.in_(ids))
        ).scalars()
    )
    gids = set(conn.execute(select(objects.c.group_id).where(objects.c.id.in_(ids))).scalars())
    conn.execute(delete(attributes).where(attributes.c.object_id.in_(ids)))
    conn.execute(delete(attachments).where(attachments.c.object_id.in_(ids)))
    conn.execute(delete(objects).where(objects.c.id.in_(ids)))
    for gid in gids:
        n = conn.execute(select(func.count()).where(objects.c.group_id == gid)).scalar()
        conn.execute(update(groups).where(groups.c.id == gid).values(count=n))
    return keys
