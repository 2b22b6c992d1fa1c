"""Snapshot files: a zstd frame of UTF-8 JSON, validated against the v1 JSON Schema.

``dumps``/``loads`` are the only places that know the on-disk encoding; ``validate`` is the only
place that knows the schema. Plain (uncompressed) JSON is accepted by ``load`` too, so a
snapshot written with ``coresnap snapshot --json`` can be viewed and uploaded as well.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema
import zstandard

from coresnap.errors import SnapshotFormatError

FORMAT = "coresnap-snapshot"
VERSION = 1
# zstd frame magic (RFC 8878, 3.1.1): 0xFD2FB528 little-endian.
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# A snapshot is small by design; refuse to inflate anything absurd (a zstd bomb).
MAX_DECOMPRESSED = 256 * 1024 * 1024
_LEVEL = 10


@functools.cache
def schema() -> dict[str, Any]:
    """The v1 JSON Schema, as a dict (``coresnap/snapshot/schema/snapshot-v1.schema.json``)."""
    text = resources.files("coresnap.snapshot").joinpath("schema/snapshot-v1.schema.json")
    loaded: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return loaded


@functools.cache
def _fast_check() -> Callable[[Any], Any]:
    """The schema compiled to Python by fastjsonschema (~20x faster than jsonschema on a
    65-thread snapshot). It speaks draft 7: the v1 schema uses only keywords whose meaning is
    the same there, and jsonschema still explains any failure (a test checks both agree)."""
    flat = _inline(schema(), schema()["$defs"])
    flat["$schema"] = "http://json-schema.org/draft-07/schema#"
    return fastjsonschema.compile(flat)


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    # The schema has no recursive $ref: inlining its $defs once makes validation about twice
    # as fast (no reference resolution per frame and variable).
    flat = _inline(schema(), schema()["$defs"])
    cls = jsonschema.validators.validator_for(schema())
    return cls(flat)


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if set(node) == {"$ref"}:
            return _inline(defs[node["$ref"].rsplit("/", 1)[1]], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(x, defs) for x in node]
    return node


def validate(snapshot: dict[str, Any], path: str | None = None) -> None:
    """Check ``snapshot`` against the v1 schema.

    Raises:
        SnapshotFormatError: naming the first failing key path and why.
    """
    try:
        _fast_check()(snapshot)
        return
    except fastjsonschema.JsonSchemaException:
        pass  # jsonschema names the failing key path and why
    error = jsonschema.exceptions.best_match(_validator().iter_errors(snapshot))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise SnapshotFormatError(path, f"at {where}: {error.message[:300]}")


def to_json(snapshot: dict[str, Any], *, indent: int | None = None) -> str:
    """The snapshot as JSON text (non-finite floats are already strings in a valid snapshot)."""
    separators = (",", ":") if indent is None else None
    return json.dumps(snapshot, indent=indent, separators=separators, allow_nan=False)


def dumps(snapshot: dict[str, Any]) -> bytes:
    """The snapshot as stored: a zstd frame of compact UTF-8 JSON."""
    data = to_json(snapshot).encode("utf-8")
    return zstandard.ZstdCompressor(level=_LEVEL).compress(data)


def loads(data: bytes, path: str | None = None) -> dict[str, Any]:
    """Decode snapshot bytes (zstd-compressed or plain JSON) and validate them.

    Raises:
        SnapshotFormatError: not zstd/JSON, too large once inflated, or not a v1 snapshot.
    """
    if data[:4] == _ZSTD_MAGIC:
        try:
            reader = zstandard.ZstdDecompressor().stream_reader(data)
            data = reader.read(MAX_DECOMPRESSED + 1)
        except zstandard.ZstdError as e:
            raise SnapshotFormatError(path, f"bad zstd data: {e}") from None
        if len(data) > MAX_DECOMPRESSED:
            raise SnapshotFormatError(path, f"inflates to over {MAX_DECOMPRESSED} bytes")
    try:
        snapshot = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SnapshotFormatError(path, f"not JSON: {e}") from None
    if not isinstance(snapshot, dict) or snapshot.get("format") != FORMAT:
        raise SnapshotFormatError(path, f"not a {FORMAT} document")
    if snapshot.get("version") != VERSION:
        raise SnapshotFormatError(path, f"unsupported version {snapshot.get('version')!r}")
    validate(snapshot, path)
    return snapshot


def load(source: str | os.PathLike[str] | bytes) -> dict[str, Any]:
    """Read a snapshot from a path or from bytes.

    Raises:
        SnapshotFormatError: unreadable file or invalid snapshot.
    """
    if isinstance(source, bytes):
        return loads(source)
    path = Path(source)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SnapshotFormatError(str(path), e.strerror or str(e)) from None
    return loads(data, str(path))


def write(snapshot: dict[str, Any], path: str | os.PathLike[str]) -> int:
    """Write the compressed snapshot atomically (temp file, fsync, rename); return its size."""
    data = dumps(snapshot)
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)
    return len(data)
