"""One upload: decode the compressed snapshot, validate it, fingerprint it, index it, keep its blob.

The group key is the server's fingerprint (``fingerprints.py``), computed after learned symbols
filled the snapshot's nameless frames (``symbols.py``); the client's fingerprint stays in the
blob. Aliases join the object to a group that already has its crash (``aliases.py``); what the
snapshot teaches about its build's symbols is kept in the same transaction.

Idempotent by object id (the snapshot's ``uuid``): the unique (project, oid) constraint decides,
so a retried or concurrent duplicate upload returns the stored object and changes nothing.
The blob is written (and fsynced) before the transaction that indexes it commits, so an
acknowledged upload survives kill -9; a crash in between leaves at most an unreferenced blob.

The write transaction is kept short (SQLite has one writer; PostgreSQL holds the group row):
decoding, validation and the retry check happen before it, and the blob write (with its fsyncs),
when storage sampling will likely keep the blob, runs on a writer thread from then on, while
this one waits for its turn and does the transaction's work; the commit waits for the blob.
The transaction only counts the object in its group and inserts its rows (and writes the blob
itself in the rare case the guess said "not kept").
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from coresnap.analysis import document
from coresnap.errors import InvalidSnapshot, PayloadTooLarge, SnapshotFormatError, SnapshotTooLarge
from coresnap.snapshot import compression
from coresnap.snapshot.format import parse as parse_snapshot
from coresnap.snapshot.format import validate as validate_schema
from coresnap.store import aliases, debugsyms, fingerprints, grouping, learned, symbols
from coresnap.store.alerts import outbox
from coresnap.store.blobs import BlobStore, blob_key
from coresnap.store.budget import Budget
from coresnap.store.config import StoreConfig
from coresnap.store.db.engine import reading, write_lock, writing
from coresnap.store.db.models import MAX_VALUE, attributes, groups, objects

OID = re.compile(r"^[0-9a-f]{32}$")
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
# The attribute saying how many frames learned symbols filled (objects.learned has which).
LEARNED_ATTRIBUTE = "symbols.learned"
# The attribute keeping a snapshot's timestamp that was out of the window (see stamp).
ORIGINAL_TIMESTAMP = "timestamp.original"
# Default (seconds before, after) the server's clock a snapshot's timestamp is believed.
TIME_WINDOW = (10 * 365 * 86400.0, 86400.0)
log = logging.getLogger("coronerd")
# Blob writes of uploads in progress (see store): mostly waits on fsync or S3, GIL released.
_WRITERS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="coronerd-blob")


@dataclass
class Parsed:
    """What the index needs from one snapshot."""

    oid: str
    timestamp: float
    fingerprint: str
    frames: list[str]
    labels: list[str]
    attributes: dict[str, str | int | float] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    fp_version: int | None = None
    learned: list[dict[str, Any]] = field(default_factory=list)  # frames learned symbols filled
    teaches: symbols.Symbols = field(default_factory=symbols.Symbols)  # new facts to keep
    blamed: str | None = None  # the blamed function (guards aliases)
    weak: list[str] = field(default_factory=list)  # function keys (aliases.place_weak)
    site: str | None = None  # the fingerprint's site


@dataclass(frozen=True)
class Stored:
    oid: str
    group: str
    created: bool
    blob_kept: bool
    group_created: bool = False


def without_nul(value: Any) -> Any:
    """``value`` with every NUL character of its strings (keys too) replaced by U+FFFD: JSON
    allows ``\\u0000`` but PostgreSQL's text does not, and a C string never holds one."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    return value


def normalize_oid(oid: str) -> str:
    """``oid`` as 32 lowercase hex digits (hyphens of a canonical UUID dropped).

    Raises InvalidSnapshot for anything else (path tricks included).
    """
    clean = oid.replace("-", "").lower() if len(oid) == 36 else oid.lower()
    if not OID.match(clean):
        raise InvalidSnapshot(f"object id must be 32 hex digits, not {oid[:80]!r}")
    return clean


def decode(body: bytes, limit: int, *, check: bool = True) -> dict[str, Any]:
    """The snapshot in ``body`` (a zstd frame of JSON, or bare JSON), at most ``limit`` bytes;
    ``check=False`` skips the schema (a stored blob was checked when it was uploaded).

    Raises PayloadTooLarge when the decompressed JSON is over ``limit`` (zstd bombs), and
    InvalidSnapshot for bad compression, bytes after the frame, bad JSON or JSON nested too deep.
    """
    with _as_store_errors():
        raw = compression.inflate(body, limit)  # one frame, at most limit bytes
        doc = parse_snapshot(raw)  # the JSON reader of snapshot.format
    if check:
        validate(doc)
    return doc


@contextlib.contextmanager
def _as_store_errors() -> Iterator[None]:
    """The snapshot reader's errors as the store's answers: 413 past the limit, else 422."""
    try:
        yield
    except SnapshotTooLarge as e:
        raise PayloadTooLarge(e.size_what, e.limit) from e
    except SnapshotFormatError as e:
        raise InvalidSnapshot(e.what) from e


def validate(doc: dict[str, Any]) -> None:
    """Check ``doc`` against the snapshot schema; raises InvalidSnapshot naming the problem."""
    try:
        validate_schema(doc)
    except SnapshotFormatError as e:
        raise InvalidSnapshot(str(e)[:500]) from e


def stamp(value: object, now: float, window: tuple[float, float]) -> tuple[float, str | None]:
    """The time to index for a snapshot's ``timestamp``: itself when it is a number within
    ``window`` (seconds before, after) of ``now``, else ``now`` and the original as text (cut to
    64 characters: a 310-digit number stays readable and bounded)."""
    before, after = window
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            ts = float(value)
        except OverflowError:  # an int past a double's range
            ts = math.inf
        if now - before <= ts <= now + after:
            return ts, None
    text = repr(value) if isinstance(value, float) else str(value)
    return now, text[:64]


def parse(
    doc: dict[str, Any],
    extra: dict[str, str],
    known: symbols.Symbols | None = None,
    window: tuple[float, float] = TIME_WINDOW,
) -> Parsed:
    """Pick the indexed facts out of a validated snapshot (``extra``: attributes from the
    request), its group key the server's fingerprint with ``known`` learned symbols filled in;
    a timestamp outside ``window`` (see :func:`stamp`) is replaced by the server's clock."""
    oid = normalize_oid(str(doc["uuid"]))
    ts, original = stamp(doc.get("timestamp"), time.time(), window)
    attrs: dict[str, str | int | float] = {}
    for k, v in {**doc["attributes"], **extra}.items():
        if ATTRIBUTE_KEY.match(str(k)) and isinstance(v, str | int | float) and v is not None:
            attrs[str(k)] = v if not isinstance(v, str) else v[:MAX_VALUE]
    if original is not None:
        attrs[ORIGINAL_TIMESTAMP] = original
    system, process = doc.get("system") or {}, doc.get("process") or {}
    if "hostname" not in attrs and isinstance(system.get("hostname"), str):
        attrs["hostname"] = system["hostname"][:MAX_VALUE]
    if "application" not in attrs and isinstance(process.get("exe"), str):
        attrs["application"] = os.path.basename(process["exe"])[:MAX_VALUE]
    fp = fingerprints.compute(doc, known)
    if fp.learned:
        attrs[LEARNED_ATTRIBUTE] = len(fp.learned)
    labels = [x[:128] for x in document.labels(doc)]
    return Parsed(
        oid,
        ts,
        fp.hash,
        fp.frames,
        labels,
        attrs,
        fp.aliases,
        fp.version,
        fp.learned,
        blamed=fp.blamed,
        weak=fp.weak,
        site=fp.site,
    )


def _attribute_rows(object_id: int, p: Parsed) -> list[dict[str, Any]]:
    rows = []
    for key, value in p.attributes.items():
        num = _number(value)  # an int past a double's range has no number (it is text)
        rows.append(dict(object_id=object_id, key=key, value_text=str(value), value_num=num))
    for label in p.labels:
        rows.append(
            dict(object_id=object_id, key="classification", value_text=label, value_num=None)
        )
    return rows


def _number(text: str | int | float) -> float | None:
    try:
        value = float(text)
    except (ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


_EXISTING = (
    select(objects.c.blob_kept, groups.c.fingerprint)
    .join(groups, groups.c.id == objects.c.group_id)
    .where(objects.c.project_id == bindparam("pid"), objects.c.oid == bindparam("oid"))
)


def existing(conn: Connection, project_id: int, oid: str) -> Stored | None:
    """The stored object ``oid`` of the project, if any."""
    row = conn.execute(_EXISTING, {"pid": project_id, "oid": oid}).first()
    return None if row is None else Stored(oid, row.fingerprint, False, bool(row.blob_kept))


def store(
    engine: Engine,
    blobs: BlobStore,
    config: StoreConfig,
    project: tuple[int, str],
    body: bytes,
    extra: dict[str, str],
    budget: Budget | None = None,
) -> Stored:
    """Decode, validate and store one upload to ``project`` (id, name); see the module doc.
    With a ``budget``, the upload holds its decompressed size of it until it is stored.

    Raises PayloadTooLarge, InvalidSnapshot or StoreBusy (budget); nothing is stored then.
    """
    limit = config["limits.max_snapshot"]
    with _as_store_errors():
        size = compression.declared_size(body, limit)
    with contextlib.nullcontext() if budget is None else budget.hold(size):
        return _store(engine, blobs, config, project, decode(body, limit), body, extra)


def _store(
    engine: Engine,
    blobs: BlobStore,
    config: StoreConfig,
    project: tuple[int, str],
    doc: dict[str, Any],
    body: bytes,
    extra: dict[str, str],
) -> Stored:
    doc = without_nul(doc)  # what is indexed; the blob keeps the snapshot as sent
    oid = normalize_oid(str(doc["uuid"]))
    pid, pname = project
    with reading(engine.connect()) as conn:  # no lock, no transaction: a retry costs one read
        found = existing(conn, pid, oid)
        if found is not None:
            return found
        known = learned.lookup(conn, pid, doc)
        resolved = debugsyms.lookup(conn, blobs, pid, doc, known)  # uploaded debug files
        known.update(resolved)
        window = (config["limits.timestamp_past"], config["limits.timestamp_future"])
        p = parse(doc, extra, known, window)
        p.teaches = symbols.news(symbols.teach(doc), known)
        p.teaches.update(resolved)  # each pc is looked up in a debug file once
        written = grouping.likely_kept(conn, pid, p.fingerprint, config)
    blob = body if body.startswith(compression.ZSTD_MAGIC) else compression.compress(body, 3)
    key = blob_key(pname, p.oid)
    # The blob is written on another thread meanwhile: waiting for a SQLite writer's turn or
    # doing the transaction's work, this one overlaps its fsyncs.
    pending = _WRITERS.submit(blobs.put, key, blob) if written else None
    try:
        with write_lock(engine), writing(engine.connect()) as conn, conn.begin():
            stored = _index(conn, blobs, config, pid, p, blob, key, written)
            if stored.blob_kept and pending is not None:
                pending.result()  # durable before the row naming it commits (or no commit)
    except IntegrityError:
        _settle(pending)
        # A concurrent upload of the same id won the unique constraint: answer with it (and
        # leave the blob: that upload's row may name it).
        with engine.connect() as conn:
            found = existing(conn, pid, p.oid)
        if found is None:
            raise
        return found
    except BaseException:
        _settle(pending)  # a failed upload leaves at most an unreferenced blob
        raise
    if pending is not None and not stored.blob_kept:
        # Sampled out after all (concurrent uploads took the group's last places): this row
        # names no blob and it is the only row of this id, so the file is nobody's.
        try:
            pending.result()
            blobs.delete(key)
        except Exception:  # an orphan blob costs space only; the upload is stored
            log.warning("could not delete the unkept blob %s", key, exc_info=True)
    return stored


def _settle(pending: Future[None] | None) -> None:
    """Wait for a blob write whose upload failed (its error, if any, is not the one to raise)."""
    if pending is not None:
        with contextlib.suppress(Exception):
            pending.result()


_INSERT_OBJECT = insert(objects)
_INSERT_ATTRIBUTES = insert(attributes)


def _index(
    conn: Connection,
    blobs: BlobStore,
    config: StoreConfig,
    pid: int,
    p: Parsed,
    blob: bytes,
    key: str,
    written: bool,
) -> Stored:
    version = p.attributes.get("version")
    frames = "\n".join(p.frames)
    unknown = aliases.place(conn, pid, p.fingerprint, p.aliases, p.blamed, p.timestamp, frames)
    unknown_weak = aliases.place_weak(conn, pid, p.fingerprint, p.weak, p.site, p.timestamp, frames)
    seen = grouping.observe(
        conn,
        pid,
        p.fingerprint,
        p.timestamp,
        None if version is None else str(version),
        p.frames,
        config,
    )
    row = conn.execute(
        _INSERT_OBJECT,
        dict(
            project_id=pid,
            oid=p.oid,
            group_id=seen.group_id,
            fingerprint=p.fingerprint,
            timestamp=p.timestamp,
            received=time.time(),
            application=_text(p.attributes.get("application")),
            hostname=_text(p.attributes.get("hostname")),
            classification=" ".join(p.labels)[:MAX_VALUE] or None,
            version=None if version is None else str(version)[:128],
            size=len(blob),
            blob_key=key if seen.keep_blob else None,
            blob_kept=seen.keep_blob,
            fp_version=p.fp_version,
            learned=json.dumps(p.learned) if p.learned else None,
        ),
    )
    object_id = int(row.inserted_primary_key[0])  # type: ignore[index]
    rows = _attribute_rows(object_id, p)
    if rows:
        conn.execute(_INSERT_ATTRIBUTES, rows)
    aliases.register(conn, pid, seen.row_id, unknown, p.blamed)
    aliases.register_weak(conn, pid, seen.row_id, unknown_weak, p.site)
    if p.teaches:
        learned.learn(conn, pid, p.teaches)
    outbox.enqueue(conn, config, pid, object_id, seen, p)  # rows only: delivery is a thread's
    if seen.keep_blob and not written:
        blobs.put(key, blob)  # kept after all (the guess said no): durable before the commit
    return Stored(p.oid, seen.key, True, seen.keep_blob, seen.created)


def _text(value: object) -> str | None:
    return None if value is None else str(value)[:MAX_VALUE]
