"""Opened object files kept per build id (and size), so a second core of the same program is fast.

Parsing libc's ``.eh_frame`` or a program's DWARF is the slow part of unwinding; the parsed
tables live on the :class:`ObjectFile`, so keeping the object keeps them. Files without a
build id are keyed by path, size and modification time. The cache is bounded (least recently
used out) and shared by the threads of one process.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

from coresnap.unwind.objfile import ObjectFile, object_from_bytes, open_object

MAX_OBJECTS = 64

_lock = threading.Lock()
_objects: OrderedDict[tuple[object, ...], ObjectFile] = OrderedDict()


def _remember(key: tuple[object, ...], obj: ObjectFile) -> ObjectFile:
    with _lock:
        _objects[key] = obj
        _objects.move_to_end(key)
        while len(_objects) > MAX_OBJECTS:
            _objects.popitem(last=False)
    return obj


def _recall(key: tuple[object, ...]) -> ObjectFile | None:
    with _lock:
        obj = _objects.get(key)
        if obj is not None:
            _objects.move_to_end(key)
        return obj


def object_for_path(path: str, build_id: str | None) -> ObjectFile:
    """The (cached) :class:`ObjectFile` for the file at ``path``.

    ``build_id`` is what the core says the module's build id is; a cached object is reused
    only for the same build id, or for the same path, size and mtime when there is none.
    Raises :class:`OSError` and :class:`~coresnap.errors.UnwindError` like ``open_object``.
    """
    st = os.stat(path)
    file_key: tuple[object, ...] = ("file", path, st.st_size, st.st_mtime_ns)
    # A stripped file and its twin with symbols share a build id, not a size: keyed by both,
    # the stripped copy opened first is never served for the twin (its frames would be ??).
    id_key: tuple[object, ...] = ("build-id", build_id, st.st_size)
    obj = _recall(id_key) if build_id else None
    if obj is None:
        obj = _recall(file_key)
    if obj is None:
        obj = open_object(path)
        # Keyed by build id only when the file really has it: a wrong file handed in by a
        # resolver must not be served later for the right build id.
        key = id_key if build_id and obj.build_id == build_id else file_key
        _remember(key, obj)
    return obj


def object_for_image(name: str, build_id: str | None, image: bytes) -> ObjectFile:
    """The (cached) :class:`ObjectFile` for an in-memory image such as the vDSO."""
    key: tuple[object, ...] = ("image", build_id) if build_id else ("image", name, image)
    obj = _recall(key)
    if obj is None:
        obj = _remember(key, object_from_bytes(name, image))
    return obj


def clear() -> None:
    """Forget every cached object (tests measure the cold path with this)."""
    with _lock:
        _objects.clear()
