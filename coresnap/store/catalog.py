"""Reading one object's index entry, and attachments (bytes in the blob store, rows in the DB)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from coresnap.errors import ObjectNotFound, StoreError
from coresnap.store.blobs import blob_key
from coresnap.store.db.engine import writing
from coresnap.store.db.models import attachments, attributes, groups, objects

if TYPE_CHECKING:
    from coresnap.store.routes import Context


def describe(engine: Engine, project_id: int, project: str, oid: str) -> dict[str, Any]:
    """Object ``oid``'s index entry (raises ObjectNotFound)."""
    q = (
        select(objects, groups.c.fingerprint.label("group"))
        .join(groups, groups.c.id == objects.c.group_id)
        .where(objects.c.project_id == project_id, objects.c.oid == oid)
    )
    with engine.connect() as conn:
        row = conn.execute(q).mappings().first()
        if row is None:
            raise ObjectNotFound(project, oid)
        attrs = conn.execute(
            select(attributes.c.key, attributes.c.value_text).where(
                attributes.c.object_id == row["id"]
            )
        ).all()
        names = conn.execute(
            select(attachments.c.name).where(attachments.c.object_id == row["id"])
        ).scalars()
        attached = sorted(names)
    values: dict[str, Any] = {}
    for key, value in attrs:
        values.setdefault(key, []).append(value)
    return {
        "object": row["oid"],
        "group": row["group"],
        "fingerprint": row["fingerprint"],
        "timestamp": row["timestamp"],
        "received": row["received"],
        "size": row["size"],
        "blob_kept": bool(row["blob_kept"]),
        "blob_key": row["blob_key"],
        "classification": (row["classification"] or "").split(),
        "attributes": {k: v[0] if len(v) == 1 else v for k, v in values.items()},
        "attachments": attached,
    }


def _object_id(engine: Engine, project_id: int, project: str, oid: str) -> int:
    with engine.connect() as conn:
        q = select(objects.c.id).where(objects.c.project_id == project_id, objects.c.oid == oid)
        found = conn.execute(q).scalar()
    if found is None:
        raise ObjectNotFound(project, oid)
    return int(found)


def attach(
    ctx: Context, project_id: int, project: str, oid: str, name: str, kind: str, data: bytes
) -> None:
    """Store attachment ``name`` of an object; raises ObjectNotFound, StoreError(409) if taken."""
    object_id = _object_id(ctx.engine, project_id, project, oid)
    key = blob_key(project, oid, f"att.{name}")
    taken = select(attachments.c.id).where(
        attachments.c.object_id == object_id, attachments.c.name == name
    )
    with ctx.engine.connect() as conn:
        if conn.execute(taken).first() is not None:
            raise _conflict(oid, name)
    ctx.blobs.put(key, data)
    try:
        with writing(ctx.engine.connect()) as conn, conn.begin():
            conn.execute(
                insert(attachments).values(
                    object_id=object_id, name=name, content_type=kind, size=len(data), blob_key=key
                )
            )
    except IntegrityError as e:
        raise _conflict(oid, name) from e


def _conflict(oid: str, name: str) -> StoreError:
    # Attachments are write-once: a second upload of a name must not replace the first's bytes.
    err = StoreError(f"{oid} already has an attachment {name!r}", attachment=name)
    err.status, err.code = 409, "conflict"
    return err


def download_headers(name: str) -> dict[str, str]:
    """Headers that make a browser save an attachment, never render it: the uploader's content
    type is not trusted (``text/html`` or SVG would run in the store's origin), so attachments
    are served as ``application/octet-stream`` with ``nosniff`` and a sanitized file name."""
    safe = "".join(c for c in name if c.isalnum() or c in "._-") or "attachment"
    return {
        "Content-Type": "application/octet-stream",
        "Content-Disposition": f'attachment; filename="{safe}"',
        "X-Content-Type-Options": "nosniff",
    }


def attachment(
    ctx: Context, project_id: int, project: str, oid: str, name: str
) -> tuple[str, bytes]:
    """(content type, bytes) of an attachment; raises ObjectNotFound."""
    object_id = _object_id(ctx.engine, project_id, project, oid)
    q = select(attachments.c.content_type, attachments.c.blob_key).where(
        attachments.c.object_id == object_id, attachments.c.name == name
    )
    with ctx.engine.connect() as conn:
        row = conn.execute(q).first()
    data = None if row is None else ctx.blobs.get(row.blob_key)
    if row is None or data is None:
        raise ObjectNotFound(project, oid, f"no attachment {name!r}")
    return str(row.content_type), data
