"""Stream a core off the kernel's pipe into a *minicore*: the notes, and of the memory only what
a snapshot reads (:mod:`.keep` decides, :mod:`.heapwalk` follows the heap). Stdlib only.

The pipe is read once, in order, never sought: the head (ELF header, program headers, notes)
comes first, then each ``PT_LOAD``'s data, which is written if kept and read and dropped
otherwise. Memory use is the head plus one 1 MiB block. The output is an ELF core laid out as

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

import bisect
import os
import re
import struct
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from coresnap.capture import corestream, heapwalk, keep, readahead, sparse
from coresnap.capture.corestream import EHDR_SIZE, PHDR_SIZE, PN_XNUM, PT_LOAD, PT_NOTE, Head

NOTE_NAME = b"CORESNAP\0"
NT_CORESNAP_MINICORE = 0x4D494E49  # "MINI"
NOTE_VERSION = 1
MODES = ("full", "minicore", "none")
PAGE = keep.PAGE
SHDR_SIZE = 64
KEEP_WHOLE = Path(__file__).resolve().parents[1] / "data" / "minicore" / "keep_whole.txt"


class Result(NamedTuple):
    size: int  # bytes of the file written (holes included)
    written: int  # bytes actually written (non-zero blocks)
    truncated: bool  # the limit, or the stream ending early, cut it
    disk_bytes: int  # st_blocks * 512 after the write
    keep: str  # "minicore", "none", or "full" when the core was kept whole
    stream_bytes: int  # bytes read off the pipe: the size of the core the kernel wrote
    facts: dict[str, object]  # why it was kept whole, windows left out, the heap walk


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
    return _Writer(head, plan, mode, fd, limit, check).run(src)


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


def _note(head: Head) -> bytes:
    """The CORESNAP note: the original PT_LOAD table (p_vaddr, p_memsz, p_filesz, p_flags)."""
    loads = [p for p in head.phdrs if p.p_type == PT_LOAD]
    desc = struct.pack(head.order + "II", NOTE_VERSION, len(loads)) + b"".join(
        struct.pack(head.order + "QQQII", p.p_vaddr, p.p_memsz, p.p_filesz, p.p_flags, 0)
        for p in loads
    )
    name = NOTE_NAME + bytes(-len(NOTE_NAME) % 4)
    return struct.pack(head.order + "III", len(NOTE_NAME), len(desc), NT_CORESNAP_MINICORE) + (
        name + desc + bytes(-len(desc) % 4)
    )


def _up(n: int, align: int = PAGE) -> int:
    return -(-n // align) * align


class _Writer:
    """Streams the data of one core; pieces are ``[vaddr, end, file offset]`` per PT_LOAD."""

    def __init__(self, head: Head, plan: keep.Plan, mode: str, fd: int, limit: int, check) -> None:  # noqa: ANN001
        self.head, self.plan, self.mode = head, plan, mode
        self.fd, self.limit, self.check = fd, limit, check
        self.notes = head.notes + _note(head)
        self.out = _up(EHDR_SIZE + len(self.notes))
        self.pieces: dict[int, list[list[int]]] = {}
        self.last: list[int] | None = None
        self.pos = len(head.raw)
        self.written = self.since_check = 0
        self.truncated = False
        self.buf = bytearray(sparse.READ_SIZE)
        self.view = memoryview(self.buf)
        self.walks: list[str] = []

    def run(self, src: sparse.Readable) -> Result:
        self.src = src
        if self.check:
            self.check(0)
        loads = [(p.p_offset, i) for i, p in enumerate(self.head.phdrs)
                 if p.p_type == PT_LOAD and p.p_filesz]  # fmt: skip
        for _, i in sorted(loads):
            if self.truncated:
                break
            self._skip_to(self.head.phdrs[i].p_offset)
            self._segment(i)
        if not self.truncated:
            self._skip_to(1 << 63)
        size = self._finish()
        if self.check:
            self.check(self.written)
        facts = {**self.plan.facts, "heap_walk": self.walks}
        disk = os.fstat(self.fd).st_blocks * 512
        return Result(size, self.written, self.truncated, disk, self.mode, self.pos, facts)

    def _read(self, n: int) -> int:
        got = 0
        while got < n:
            r = self.src.readinto(self.view[got:n])
            if not r:
                break
            got += r
        self.pos += got
        return got

    def _skip_to(self, offset: int) -> None:
        while self.pos < offset:
            if not self._read(min(len(self.view), offset - self.pos)):
                return

    def _segment(self, i: int) -> None:
        seg = self.head.phdrs[i]
        ranges = self.plan.sparse.get(i)
        walk: heapwalk.HeapWalk | None = None
        pending: set[int] = set()
        done = 0
        while done < seg.p_filesz and not self.truncated:
            want = min(len(self.view), seg.p_filesz - done)
            n = self._read(want)
            base = seg.p_vaddr + done
            if ranges is None:
                self._put(i, base, 0, n)
            else:
                if done == 0 and self.mode == "minicore":
                    walk = _heap_walk(seg, bytes(self.buf[:16]), self.head.order)
                if walk is not None:
                    pending |= walk.feed(self.view[:n], base)
                for lo, hi in _kept(ranges, pending, base, base + n):
                    self._put(i, lo, lo - base, hi - base)
            done += n
            self.truncated = self.truncated or n < want  # the kernel stopped writing
        if walk is not None:
            self.walks.append(f"{walk.chunks} chunks from {seg.p_vaddr:#x}: {walk.stopped}")

    def _put(self, i: int, vaddr: int, start: int, end: int) -> None:
        """Write ``buf[start:end]`` (at ``vaddr`` in PT_LOAD ``i``): after the piece written
        last when it continues it, else as a new piece at the next page of the file."""
        size = end - start
        pieces = self.pieces.setdefault(i, [])
        last = self.last
        if last is not None and pieces and pieces[-1] is last and last[1] == vaddr:
            offset = last[2] + (vaddr - last[0])
        else:
            offset, last = _up(self.out), None
        if offset + size > self.limit:
            self.truncated = True
            return
        if last is None:
            last = self.last = [vaddr, vaddr, offset]
            pieces.append(last)
        w = sparse.write_runs(self.fd, self.buf, offset, start, end)
        last[1] = vaddr + size
        self.out = offset + size
        self.written += w
        self.since_check += w
        if self.check and self.since_check >= sparse.CHECK_EVERY:
            self.check(self.written)
            self.since_check = 0

    def _finish(self) -> int:
        os.pwrite(self.fd, self.notes, EHDR_SIZE)
        phdrs = self._phdrs()
        phoff = _up(self.out, 8)
        os.pwrite(self.fd, b"".join(phdrs), phoff)
        end = phoff + len(phdrs) * PHDR_SIZE
        o = self.head.order
        ehdr = bytearray(self.head.ehdr)
        struct.pack_into(o + "Q", ehdr, 32, phoff)
        if len(phdrs) >= PN_XNUM:  # gABI: the count goes in section header 0's sh_info
            shdr = struct.pack(o + "IIQQQQIIQQ", 0, 0, 0, 0, 0, 1, 0, len(phdrs), 0, 0)
            os.pwrite(self.fd, shdr, end)
            struct.pack_into(o + "QHHHH", ehdr, 40, end, EHDR_SIZE, PHDR_SIZE, 0, 0)
            struct.pack_into(o + "HHHH", ehdr, 56, PN_XNUM, SHDR_SIZE, 1, 0)
            end += SHDR_SIZE
        else:
            struct.pack_into(o + "Q", ehdr, 40, 0)
            struct.pack_into(o + "HHHH", ehdr, 56, len(phdrs), SHDR_SIZE, 0, 0)
        os.pwrite(self.fd, bytes(ehdr), 0)
        os.ftruncate(self.fd, end)
        return end

    def _phdrs(self) -> list[bytes]:
        o = self.head.order + "IIQQQQQQ"
        out = [struct.pack(o, PT_NOTE, 0, EHDR_SIZE, 0, 0, len(self.notes), 0, 0)]
        for i, p in enumerate(self.head.phdrs):
            if p.p_type == PT_LOAD:
                out += [struct.pack(o, *ph) for ph in self._load(i)]
            elif p.p_type != PT_NOTE:
                out.append(struct.pack(o, p.p_type, p.p_flags, 0, p.p_vaddr, p.p_paddr, 0,
                                       p.p_memsz, p.p_align))  # fmt: skip
        return out

    def _load(self, i: int) -> list[tuple[int, ...]]:
        """The PT_LOADs replacing PT_LOAD ``i``: its kept pieces and the gaps between them."""
        p = self.head.phdrs[i]
        pieces = self.pieces.get(i, [])
        if i not in self.plan.sparse:  # kept whole (or cut by the limit)
            offset, filesz = (pieces[0][2], pieces[0][1] - pieces[0][0]) if pieces else (0, 0)
            return [(PT_LOAD, p.p_flags, offset, p.p_vaddr, 0, filesz, p.p_memsz, p.p_align)]
        out: list[tuple[int, ...]] = []
        at = p.p_vaddr
        for lo, hi, offset in pieces:
            if lo > at:
                out.append((PT_LOAD, p.p_flags, 0, at, 0, 0, lo - at, p.p_align))
            out.append((PT_LOAD, p.p_flags, offset, lo, 0, hi - lo, hi - lo, p.p_align))
            at = hi
        if at < p.end:
            out.append((PT_LOAD, p.p_flags, 0, at, 0, 0, p.end - at, p.p_align))
        return out


def _heap_walk(seg: corestream.Phdr, first: bytes, order: str) -> heapwalk.HeapWalk | None:
    if heapwalk.starts_heap(first, order):
        return heapwalk.HeapWalk(seg.p_vaddr, seg.end, order)
    return None


def _kept(
    ranges: list[tuple[int, int]], pages: set[int], lo: int, hi: int
) -> list[tuple[int, int]]:
    """The parts of ``[lo, hi)`` in ``ranges`` (sorted, disjoint) or in ``pages``, merged."""
    i = max(0, bisect.bisect_right(ranges, (lo, 1 << 64)) - 1)
    parts = []
    while i < len(ranges) and ranges[i][0] < hi:
        a, b = max(ranges[i][0], lo), min(ranges[i][1], hi)
        if a < b:
            parts.append((a, b))
        i += 1
    parts += [(p, min(p + PAGE, hi)) for p in pages if lo <= p < hi]
    merged: list[tuple[int, int]] = []
    for a, b in sorted(parts):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged
