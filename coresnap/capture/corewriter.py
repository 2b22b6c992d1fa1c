"""The data half of a minicore (:mod:`.minicore`): stream the ``PT_LOAD`` data off the pipe,
write what :mod:`.keep` and :mod:`.heapwalk` keep, then lay the file out. Stdlib only.

The output is ``ELF header | notes + a CORESNAP note | PT_LOAD data kept (page-aligned,
sparse) | phdrs``: the program headers go last because the pieces are only known once the data
has streamed. A sparse ``PT_LOAD`` becomes its kept pieces and ``p_filesz`` 0 gaps; the
``CORESNAP`` note (``NT_CORESNAP_MINICORE``) lists the original ``PT_LOAD`` table.
"""

from __future__ import annotations

import bisect
import os
import struct
from typing import NamedTuple

from coresnap.capture import corestream, drain, heapwalk, keep, sparse
from coresnap.capture.corestream import EHDR_SIZE, PHDR_SIZE, PN_XNUM, PT_LOAD, PT_NOTE, Head

NOTE_NAME = b"CORESNAP\0"
NT_CORESNAP_MINICORE = 0x4D494E49  # "MINI"
NOTE_VERSION = 1
PAGE = keep.PAGE
SHDR_SIZE = 64


class Result(NamedTuple):
    size: int  # bytes of the file written (holes included)
    written: int  # bytes actually written (non-zero blocks)
    truncated: bool  # the limit, or the stream ending early, cut it
    disk_bytes: int  # st_blocks * 512 after the write
    keep: str  # "minicore", "none", or "full" when the core was kept whole
    stream_bytes: int  # bytes read off the pipe: the size of the core the kernel wrote
    facts: dict[str, object]  # why it was kept whole, windows left out, the heap walk


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


class Writer:
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
        self.drain = drain.Drain(src, self.view)
        try:
            return self._run()
        finally:
            self.drain.close()

    def _run(self) -> Result:
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

    def _skip_to(self, offset: int) -> int:
        """Drop the stream up to ``offset``; returns the bytes dropped."""
        dropped = self.drain.drop(offset - self.pos) if offset > self.pos else 0
        self.pos += dropped
        return dropped

    def _segment(self, i: int) -> None:
        seg = self.head.phdrs[i]
        ranges = self.plan.sparse.get(i)
        walk: heapwalk.HeapWalk | None = None
        pending: set[int] = set()
        done = 0
        while done < seg.p_filesz and not self.truncated:
            base = seg.p_vaddr + done
            if ranges is not None and walk is None and done:  # nothing kept up to the next range
                want = min(_next_kept(ranges, base), seg.p_vaddr + seg.p_filesz) - base
                if want:
                    got = self._skip_to(self.pos + want)
                    done += got
                    self.truncated = got < want  # the kernel stopped writing
                    continue
            want = min(len(self.view), seg.p_filesz - done)
            n = self._read(want)
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


def _next_kept(ranges: list[tuple[int, int]], at: int) -> int:
    """The first kept address at or after ``at`` in ``ranges`` (sorted, disjoint)."""
    i = bisect.bisect_right(ranges, (at, 1 << 64)) - 1
    if i >= 0 and at < ranges[i][1]:
        return at
    return ranges[i + 1][0] if i + 1 < len(ranges) else 1 << 64


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
