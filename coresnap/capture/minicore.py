"""Stream a core off the kernel's pipe into a *minicore*: the notes, and of the memory only what
a snapshot reads (:mod:`.keep` decides, :mod:`.heapwalk` follows the heap). Stdlib only.

The pipe is read once, in order, never sought: the head (ELF header, program headers, notes)
comes first, then each ``PT_LOAD``'s data, which is written if kept and read and dropped
otherwise (:mod:`.corewriter`). Memory use is the head plus one 1 MiB block. The output is an
ELF core laid out as

    ELF header | notes + a CORESNAP note | PT_LOAD data kept (page-aligned, sparse) | phdrs

A sparse ``PT_LOAD`` becomes several: kept ranges with their data, dropped ranges with
``p_filesz`` 0 (gdb, drgn and coresnap read them as "not dumped", never as zeros). The
``CORESNAP`` note (type ``NT_CORESNAP_MINICORE``) lists the original ``PT_LOAD`` table so a
reader can show the process's memory map as it was. A core this module cannot follow (another
layout, an unknown machine, no read-ahead of the process's memory), or of a process mapping a
file listed in data/minicore/keep_whole.txt (V8: its JS frames are read through the V8 heap),
is kept whole instead: on any doubt, more is kept, never less.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from coresnap.capture import corestream, keep, readahead, sparse
from coresnap.capture.corestream import PT_LOAD, Head
from coresnap.capture.corewriter import Result, Writer

__all__ = ["MODES", "Prefixed", "Recorder", "Result", "stream", "write"]

MODES = ("full", "minicore", "none")
KEEP_WHOLE = Path(__file__).resolve().parents[1] / "data" / "minicore" / "keep_whole.txt"


class _KeepWhole(Exception):
    """The core is kept whole: it cannot be cut safely, or the policy says so."""


class Recorder:
    """A Readable that remembers every byte read, to replay them if the core is kept whole."""

    def __init__(self, src: sparse.Readable) -> None:
        self.src, self.seen = src, bytearray()

    def readinto(self, buffer: memoryview, /) -> int | None:
        n = self.src.readinto(buffer)
        if n:
            self.seen += buffer[:n]
        return n


class Prefixed:
    """``prefix``, then the rest of ``src``."""

    def __init__(self, prefix: bytes, src: sparse.Readable) -> None:
        self.prefix, self.src = memoryview(prefix), src

    def readinto(self, buffer: memoryview, /) -> int | None:
        if not self.prefix:
            return self.src.readinto(buffer)
        n = min(len(buffer), len(self.prefix))
        buffer[:n] = self.prefix[:n]
        self.prefix = self.prefix[n:]
        return n

    def fileno(self) -> int:
        """``src``'s descriptor, once the prefix is read (so that splice may take the rest)."""
        if self.prefix:
            raise OSError("the prefix is not read yet")
        return int(self.src.fileno())  # type: ignore[attr-defined]


def write(
    src: sparse.Readable,
    fd: int,
    limit: int,
    check: Callable[[int], None] | None,
    cfg: Mapping[str, Any],
    pid: int | None,
) -> Result:
    """The core on ``src`` into ``fd`` as ``dump.keep`` says: whole (sparse), as a minicore
    (whole when its memory is at most ``dump.minicore_above``), or its notes only. ``pid`` (the
    initial namespace's) is read ahead through /proc/<pid>/mem. Raises what ``check`` raises
    (the quota) and OSError from the writes."""
    mode = cfg["dump.keep"]
    if mode == "full":
        whole = sparse.stream(src, fd, limit, check)
        return Result(*whole, keep="full", stream_bytes=whole.size, facts={})
    return stream(src, fd, limit, check, mode=mode,
                  memory=lambda: readahead.ProcMemory.open(pid) if pid is not None else None,
                  budget=cfg["dump.minicore_budget"], whole_below=cfg["dump.minicore_above"])  # fmt: skip


def stream(
    src: sparse.Readable,
    fd: int,
    limit: int,
    check: Callable[[int], None] | None,
    *,
    mode: str,
    memory: Callable[[], keep.Memory | None],
    budget: int,
    whole_below: int = 0,
) -> Result:
    """Write the minicore (``mode`` "minicore", or "none": the notes only) of the core on
    ``src`` into ``fd``, at most ``limit`` bytes; ``memory()`` gives the read-ahead of the
    process (None: unavailable, the core is kept whole), ``budget`` bounds the pointer windows
    (:func:`keep.plan`). A minicore whose memory is at most ``whole_below`` bytes is kept
    whole. Raises what ``check`` raises (the quota) and OSError from the writes."""
    recorder = Recorder(src)
    try:
        head = corestream.read_head(recorder)
        plan = _plan(head, mode, memory, budget, whole_below)
    except Exception as e:  # noqa: BLE001 - any doubt about the core: keep it whole
        why = e.what if isinstance(e, corestream.HeadError) else str(e) or type(e).__name__
        whole = sparse.stream(Prefixed(bytes(recorder.seen), src), fd, limit, check)
        return Result(*whole, keep="full", stream_bytes=whole.size, facts={"kept_whole": why})
    return Writer(head, plan, mode, fd, limit, check).run(src)


def _plan(
    head: Head,
    mode: str,
    memory: Callable[[], keep.Memory | None],
    budget: int,
    whole_below: int,
) -> keep.Plan:
    _check_layout(head)
    dumped = sum(p.p_filesz for p in head.phdrs if p.p_type == PT_LOAD)
    if mode == "minicore" and dumped <= whole_below:
        raise _KeepWhole(f"{dumped} bytes of memory, not above dump.minicore_above ({whole_below})")
    listed = _listed(head) if mode == "minicore" else None
    if listed is not None:
        raise _KeepWhole(f"it maps {listed} (data/minicore/keep_whole.txt)")
    if mode == "none":
        loads = [i for i, p in enumerate(head.phdrs) if p.p_type == PT_LOAD and p.p_filesz]
        return keep.Plan({i: [] for i in loads}, {})
    reader = memory()
    if reader is None:
        raise _KeepWhole("the process's memory cannot be read ahead (/proc/<pid>/mem)")
    try:
        return keep.plan(head, reader, budget)
    finally:
        close = getattr(reader, "close", None)
        if close is not None:
            close()


def _listed(head: Head) -> str | None:
    """The first mapped file whose base name matches data/minicore/keep_whole.txt, if any."""
    patterns = [re.compile(line) for line in KEEP_WHOLE.read_text().splitlines()
                if line.strip() and not line.startswith("#")]  # fmt: skip
    for name in dict.fromkeys(os.path.basename(f.path) for f in head.files):
        if any(p.search(name) for p in patterns):
            return name
    return None


def _check_layout(head: Head) -> None:
    """The data must follow the head, PT_LOAD after PT_LOAD, without overlap."""
    at = len(head.raw)
    for p in sorted((p for p in head.phdrs if p.p_type == PT_LOAD and p.p_filesz),
                    key=lambda p: p.p_offset):  # fmt: skip
        if p.p_offset < at:
            raise _KeepWhole(f"PT_LOAD data at offset {p.p_offset} overlaps what came before")
        at = p.p_offset + p.p_filesz
