"""Regroup, step 1: what every stored object's key is today, computed from its snapshot.

Two passes over a project's objects, in id order. The first reads each kept snapshot, learns
from it what ingest would have learned (``symbols.teach``; stored objects may predate learned
symbols, or be older than the snapshot that names their build) and computes the server's
fingerprint of every snapshot with no nameless frame. The second reads again only the snapshots
with nameless frames of a build id, and fingerprints them with everything learned in the first
(so a stripped crash stored *before* its unstripped twin meets it), and with frames looked up in
the debug files uploaded for their build (``debugsyms.py``). Objects without a kept
snapshot (storage sampling, purged) are not computed: they follow their group (``plan.py``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from coresnap.analysis import document
from coresnap.store import debugsyms, fingerprints, learned, symbols
from coresnap.store.blobs import BlobStore
from coresnap.store.db.models import groups, objects
from coresnap.store.ingest import decode

log = logging.getLogger("coronerd")
# Called with (step, done, total) while reading: the CLI draws it.
Progress = Callable[[str, int, int], None]
KeyFunction = Callable[[dict[str, Any], symbols.Symbols | None], fingerprints.ServerPrint]


@dataclass(frozen=True)
class Stored:
    """An object's row as regroup reads it."""

    id: int
    group_id: int
    fingerprint: str
    timestamp: float
    blob_key: str | None
    fp_version: int | None
    learned: str | None


@dataclass(frozen=True)
class Computed:
    """An object's key as the server computes it today, and why it changed (if it did)."""

    print: fingerprints.ServerPrint
    reason: str


@dataclass
class Reading:
    """Everything step 1 found in a project."""

    objects: list[Stored]
    groups: dict[int, Any]  # group rows by id
    computed: dict[int, Computed] = field(default_factory=dict)  # by object id
    taught: symbols.Symbols = field(default_factory=symbols.Symbols)  # facts not stored yet
    unreadable: int = 0
    kept_keys: int = 0  # objects without a snapshot whose key this version made


def load(conn: Connection, project_id: int) -> Reading:
    """The project's objects (``blob_key`` None: no snapshot kept) and group rows."""
    q = select(
        objects.c.id,
        objects.c.group_id,
        objects.c.fingerprint,
        objects.c.timestamp,
        objects.c.blob_key,
        objects.c.fp_version,
        objects.c.learned,
    ).where(objects.c.project_id == project_id)
    stored = sorted((Stored(*r) for r in conn.execute(q)), key=lambda s: s.id)
    found = conn.execute(select(groups).where(groups.c.project_id == project_id)).mappings()
    return Reading(stored, {int(g["id"]): g for g in found})


def snapshot(blobs: BlobStore, key: str, limit: int) -> dict[str, Any] | None:
    """The stored snapshot ``key`` (validated when it was ingested), or None if unreadable."""
    try:
        data = blobs.get(key)
        return None if data is None else decode(data, limit, check=False)
    except Exception:  # a damaged blob: the object follows its group like one without a blob
        log.warning("regroup: cannot read %s", key, exc_info=True)
        return None


def compute(
    conn: Connection,
    reading: Reading,
    project_id: int,
    blobs: BlobStore,
    limit: int,
    progress: Progress,
    key: KeyFunction = fingerprints.compute,
    version: int | None = None,
) -> None:
    """Fill ``reading.computed`` and ``reading.taught`` (the two passes of the module doc).

    An object without a readable snapshot whose key was made by ``version`` (this coronerd's
    fingerprint version, at its ingest or a regroup) keeps that key: it is today's.
    """
    with_blob = [s for s in reading.objects if s.blob_key]
    later: list[Stored] = []
    for doc, s in _docs(blobs, with_blob, limit, reading, progress, "reading snapshots"):
        taught = symbols.teach(doc)
        if taught:
            known = learned.lookup(conn, project_id, doc)
            reading.taught.update(symbols.news(taught, known))
        if (
            any(not symbols.named(f) for f in document.crashed_frames(doc))
            and symbols.wanted(doc)[1]
        ):
            later.append(s)
            continue
        reading.computed[s.id] = _computed(key(doc, None), doc, s)
        conn.rollback()  # no long read transaction (SQLite: it would hold the WAL back)
    for doc, s in _docs(blobs, later, limit, reading, progress, "filling stripped frames"):
        known = learned.lookup(conn, project_id, doc)
        known.update(reading.taught)
        resolved = debugsyms.lookup(conn, blobs, project_id, doc, known)  # uploaded debug files
        known.update(resolved)
        reading.taught.update(resolved)
        reading.computed[s.id] = _computed(key(doc, known), doc, s)
        conn.rollback()
    for s in reading.objects:
        if s.id not in reading.computed and version is not None and s.fp_version == version:
            learned_fills = json.loads(s.learned) if s.learned else []
            kept = fingerprints.ServerPrint(s.fingerprint, version, [], learned=learned_fills)
            reading.computed[s.id] = Computed(kept, "kept its key")
            reading.kept_keys += 1


def _docs(
    blobs: BlobStore,
    stored: list[Stored],
    limit: int,
    reading: Reading,
    progress: Progress,
    step: str,
) -> Iterator[tuple[dict[str, Any], Stored]]:
    for n, s in enumerate(stored, 1):
        assert s.blob_key is not None
        doc = snapshot(blobs, s.blob_key, limit)
        progress(step, n, len(stored))
        if doc is None:
            reading.unreadable += 1
            continue
        yield doc, s


def _computed(fp: fingerprints.ServerPrint, doc: dict[str, Any], s: Stored) -> Computed:
    return Computed(fp, reason(fp, doc, s))


def reason(fp: fingerprints.ServerPrint, doc: dict[str, Any], s: Stored) -> str:
    """Why an object's key is ``fp.hash`` now and not what is stored (if it differs)."""
    builds = sorted({str(f["build_id"]) for f in fp.learned})
    before = json.loads(s.learned) if s.learned else []
    if builds and fp.learned != before:
        return f"symbols for build id {', '.join(b[:16] for b in builds)}"
    old = s.fp_version if s.fp_version is not None else fingerprints.client_version(doc)
    if old != fp.version:
        return f"fingerprint v{old if old is not None else '?'} → v{fp.version}"
    return "fingerprint rules changed"
