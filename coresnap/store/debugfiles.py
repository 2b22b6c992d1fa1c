"""Debug files: ELF files with symbols, uploaded per project and build id.

A stripped program's crashes have frames with a build id and a module offset but no name.
``coroner symbols upload`` sends the unstripped executable (or its separate ``.debug`` file,
``objcopy --only-keep-debug``) of that build; coronerd checks it is ELF, that its
``NT_GNU_BUILD_ID`` is the build id of the URL and that it has symbols or DWARF, keeps its bytes
in the blob store (``<project>/debug/<id[:2]>/<id>.debug``) and a row in ``debug_files``.
Uploading again for a build id replaces the file. ``debugsyms.py`` symbolises frames from it.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from coresnap.errors import InvalidDebugFile, StoreError
from coresnap.store.blobs import BlobStore, LocalBlobs
from coresnap.store.db.engine import write_lock, writing
from coresnap.store.db.models import debug_files
from coresnap.unwind.objfile import debug_file_build_id as build_id_of

BUILD_ID = re.compile(r"^[0-9a-f]{8,128}$")
_NAME = re.compile(r"[^A-Za-z0-9_.+-]")


def debug_key(project: str, build_id: str) -> str:
    """The blob key of ``project``'s debug file for ``build_id`` (a checked build id)."""
    return f"{project}/debug/{build_id[:2]}/{build_id}.debug"


def check_build_id(build_id: str) -> str:
    """``build_id`` in lowercase hex; raises StoreError (400) for anything else."""
    clean = build_id.lower()
    if not BUILD_ID.match(clean):
        raise StoreError(f"a build id is 8 to 128 hex digits, not {build_id[:80]!r}")
    return clean


def put(
    engine: Engine,
    blobs: BlobStore,
    project: tuple[int, str],
    build_id: str,
    name: str,
    data: bytes,
) -> dict[str, Any]:
    """Check ``data`` is the debug file of ``build_id`` and keep it (replacing an earlier one).

    Raises StoreError for a bad build id, InvalidDebugFile for a file that is not its debug file.
    """
    build_id = check_build_id(build_id)
    found = build_id_of(data)
    if found != build_id:
        raise InvalidDebugFile(build_id, f"the file's GNU build id is {found}, not {build_id}")
    pid, pname = project
    key = debug_key(pname, build_id)
    blobs.put(key, data)  # durable before the row naming it commits
    row = {
        "project_id": pid,
        "build_id": build_id,
        "name": _NAME.sub("_", Path(name).name)[:256] or "debug",
        "size": len(data),
        "uploaded": time.time(),
        "blob_key": key,
    }
    with write_lock(engine), writing(engine.connect()) as conn, conn.begin():
        # One statement: concurrent uploads of one build id (several coronerds) cannot collide.
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        upsert = dialect.insert(debug_files).values(**row)
        replaced = {k: upsert.excluded[k] for k in ("name", "size", "uploaded", "blob_key")}
        conn.execute(
            upsert.on_conflict_do_update(index_elements=["project_id", "build_id"], set_=replaced)
        )
    return {k: v for k, v in row.items() if k not in ("project_id", "blob_key")}


def listing(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    """The project's debug files (build id, name, size, upload time), newest first."""
    q = (
        select(
            debug_files.c.build_id, debug_files.c.name, debug_files.c.size, debug_files.c.uploaded
        )
        .where(debug_files.c.project_id == project_id)
        .order_by(debug_files.c.uploaded.desc(), debug_files.c.build_id)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def keys(conn: Connection, project_id: int, builds: Iterable[str]) -> dict[str, str]:
    """The blob keys of the debug files of ``builds`` that have one."""
    wanted = sorted(set(builds))
    if not wanted:
        return {}
    q = select(debug_files.c.build_id, debug_files.c.blob_key).where(
        debug_files.c.project_id == project_id, debug_files.c.build_id.in_(wanted)
    )
    return {r.build_id: r.blob_key for r in conn.execute(q)}


@contextlib.contextmanager
def local_file(blobs: BlobStore, key: str) -> Iterator[Path | None]:
    """A file holding the debug file ``key`` (None if it is gone): the blob itself in a local
    store, else a temporary copy removed on exit."""
    if isinstance(blobs, LocalBlobs):
        path = blobs.root.joinpath(*key.split("/"))
        yield path if path.is_file() else None
        return
    data = blobs.get(key)
    if data is None:
        yield None
        return
    with tempfile.NamedTemporaryFile(prefix="coronerd-debug-", suffix=".debug") as f:
        f.write(data)
        f.flush()
        yield Path(f.name)
