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
import io
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from elftools.elf.elffile import ELFFile
from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from coresnap.errors import StoreError
from coresnap.store.blobs import BlobStore, LocalBlobs
from coresnap.store.db.engine import write_lock, writing
from coresnap.store.db.models import debug_files

BUILD_ID = re.compile(r"^[0-9a-f]{8,128}$")
_ELF_MAGIC = b"\x7fELF"
_NAME = re.compile(r"[^A-Za-z0-9_.+-]")


class InvalidDebugFile(StoreError):
    """An uploaded debug file is refused: ``what`` says why (not ELF, another build id...)."""

    status = 422
    code = "invalid-debug-file"

    def __init__(self, build_id: str, what: str) -> None:
        self.build_id = build_id
        self.what = what
        super().__init__(f"debug file for {build_id[:128]}: {what}", build_id=build_id[:128])


def debug_key(project: str, build_id: str) -> str:
    """The blob key of ``project``'s debug file for ``build_id`` (a checked build id)."""
    return f"{project}/debug/{build_id[:2]}/{build_id}.debug"


def check_build_id(build_id: str) -> str:
    """``build_id`` in lowercase hex; raises StoreError (400) for anything else."""
    clean = build_id.lower()
    if not BUILD_ID.match(clean):
        raise StoreError(f"a build id is 8 to 128 hex digits, not {build_id[:80]!r}")
    return clean


def build_id_of(data: bytes) -> str:
    """The GNU build id of the ELF image ``data``; raises InvalidDebugFile when ``data`` is not
    ELF, has no build id or has neither a symbol table nor DWARF (a stripped file names
    nothing)."""
    if not data.startswith(_ELF_MAGIC):
        raise InvalidDebugFile("?", f"not an ELF file (starts with {data[:4]!r})")
    try:
        elf = ELFFile(io.BytesIO(data))
        found = _note_build_id(elf)
        names = {s.name for s in elf.iter_sections()}
    except Exception as e:  # pyelftools on hostile bytes: ELFError, construct, struct errors...
        raise InvalidDebugFile("?", f"unreadable ELF file: {type(e).__name__}: {e}") from e
    if found is None:
        raise InvalidDebugFile("?", "the ELF file has no GNU build id note")
    if not names & {".symtab", ".debug_info"}:
        raise InvalidDebugFile(
            found, "no .symtab and no .debug_info: a stripped file names nothing"
        )
    return found


def _note_build_id(elf: ELFFile) -> str | None:
    """``NT_GNU_BUILD_ID`` from the note sections (a separate .debug file keeps them as
    sections), else from the PT_NOTE segments."""
    sources: list[Any] = [s for s in elf.iter_sections() if s["sh_type"] == "SHT_NOTE"]
    sources += [s for s in elf.iter_segments() if s["p_type"] == "PT_NOTE"]
    for source in sources:
        for note in source.iter_notes():
            if note["n_type"] == "NT_GNU_BUILD_ID" and note["n_name"] == "GNU":
                return str(note["n_desc"]).lower()
    return None


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
