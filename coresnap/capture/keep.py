"""What a minicore keeps of each ``PT_LOAD``, decided from the notes before the data streams.

Kept whole (what the kernel dumped): read-only segments (ELF header pages, the vDSO), the
writable data of every module (a file-backed writable segment: .data, GOT, RELRO) and the
anonymous segment right after one (.bss), up to :data:`WHOLE_MAX` each. Of the other
(anonymous, writable) segments only ranges are kept:

1. every thread's stack, from ``sp`` (less the red zone) to the end of its segment, at most
   :data:`CRASHED_STACK` for the dumping thread and :data:`THREAD_STACK` for the others;
2. windows around pointers, in this order while the budget lasts: the dumping thread's
   registers and stack words, the fault address, the other threads' registers and stack words,
   then the words of the modules' writable data, and last the first page of every segment
   (the heap analysis looks for glibc's first chunk there). A pointer to a glibc chunk's user
   memory (a plausible ``size`` word just before it) keeps the whole chunk, up to the tier's
   bound;
3. the main heap's chunk headers, walked as the heap streams (:mod:`.heapwalk`).

Stack and data words are read *before* the data streams, through ``/proc/<pid>/mem`` (the
process stays whole while the kernel dumps it): the data of a pointer's target may stream
before the pointer itself. Without that read-ahead nothing here can be decided: the caller
keeps the whole core. Stdlib only.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Iterable
from typing import NamedTuple, Protocol

from coresnap.capture.corestream import PF_W, PT_LOAD, Head, Phdr

PAGE = 4096
STACK_GUARD_GAP = (256 + 16) * PAGE
RED_ZONE = 128  # x86-64 SysV ABI: leaf functions may use 128 bytes below sp
CRASHED_STACK = 32 << 20  # a stack overflow fills the whole stack: 8 MiB by default (ulimit -s)
THREAD_STACK = 1 << 20
WHOLE_MAX = 64 << 20  # a bigger .data/.bss (or private file mapping) is treated as anonymous
DATA_SCAN = 32 << 20  # bytes of module data scanned for pointers (in address order)
FAULT_REACH = 64 << 10  # kept on each side of the fault address (chunk headers around it)
# Signals whose si_addr is a fault address (asm-generic/siginfo.h: SIGILL, SIGTRAP, SIGBUS,
# SIGFPE, SIGSEGV); for the others the union holds si_pid and si_uid there.
FAULT_SIGNALS = (4, 5, 7, 8, 11)
MIN_CHUNK, MALLOC_ALIGN = 0x20, 16  # glibc malloc.c MINSIZE, MALLOC_ALIGNMENT (64-bit)
IS_MMAPPED = 0x2


class Tier(NamedTuple):
    """How far a window reaches after a pointer: ``forward`` bytes, or up to ``chunk`` bytes
    of the glibc chunk the pointer starts."""

    name: str
    forward: int
    chunk: int


CRASHED = Tier("dumping thread", 64 << 10, 4 << 20)
OTHER = Tier("other threads", 2 * PAGE, 64 << 10)
DATA = Tier("module data", PAGE, PAGE)


class Memory(Protocol):
    """Read-ahead of the process's memory (``/proc/<pid>/mem``, or a whole core in tests)."""

    def read(self, address: int, size: int) -> bytes | None: ...


class Plan(NamedTuple):
    """Kept ``[start, end)`` address ranges of each sparse ``PT_LOAD`` (by program header
    index); a PT_LOAD not in ``sparse`` is kept whole."""

    sparse: dict[int, list[tuple[int, int]]]
    facts: dict[str, object]


def _page(address: int) -> int:
    return address - address % PAGE


def _up(address: int) -> int:
    return -(-address // PAGE) * PAGE


def _file_backed(seg: Phdr, files: list[tuple[int, int]]) -> bool:
    i = bisect.bisect_right(files, (seg.p_vaddr, 1 << 64)) - 1
    return i >= 0 and files[i][0] <= seg.p_vaddr < files[i][1]


def whole_segments(head: Head) -> set[int]:
    """Indexes of the PT_LOADs kept whole (see the module docstring)."""
    files = sorted((f.start, f.end) for f in head.files)
    whole: set[int] = set()
    previous: Phdr | None = None
    for i, seg in sorted(enumerate(head.phdrs), key=lambda e: e[1].p_vaddr):
        if seg.p_type != PT_LOAD:
            continue
        module_data = _file_backed(seg, files) or (
            previous is not None and previous.end == seg.p_vaddr and _file_backed(previous, files)
            and previous.p_flags & PF_W
        )  # fmt: skip
        if not seg.p_flags & PF_W or (module_data and seg.p_filesz <= WHOLE_MAX):
            whole.add(i)
        previous = seg
    return whole


class _Space:
    """The sparse segments, to place an address and to collect kept pages against a budget."""

    def __init__(self, head: Head, sparse: Iterable[int], budget: int) -> None:
        segs = sorted((head.phdrs[i].p_vaddr, i) for i in sparse if head.phdrs[i].p_filesz)
        self.starts = [s for s, _ in segs]
        self.index = [i for _, i in segs]
        self.phdrs = head.phdrs
        self.kept: dict[int, set[int]] = {i: set() for i in self.index}
        self.budget = budget
        self.left_out = 0
        self.stacks: list[tuple[int, int]] = []  # kept whole: pointers into them need nothing

    def find(self, address: int) -> Phdr | None:
        i = bisect.bisect_right(self.starts, address) - 1
        if i < 0:
            return None
        seg = self.phdrs[self.index[i]]
        return seg if address < seg.p_vaddr + seg.p_filesz else None

    def in_stack(self, address: int) -> bool:
        i = bisect.bisect_right(self.stacks, (address, 1 << 64)) - 1
        return i >= 0 and address < self.stacks[i][1]

    def stack_of(self, sp: int) -> Phdr | None:
        """The segment holding ``sp``, or the one just above it: a stack overflow leaves sp in
        the guard gap below the stack (mm/mmap.c stack_guard_gap, 256 pages by default)."""
        seg = self.find(sp)
        if seg is not None:
            return seg
        i = bisect.bisect_right(self.starts, sp)
        if i < len(self.starts) and self.starts[i] - sp <= STACK_GUARD_GAP:
            return self.phdrs[self.index[i]]
        return None

    def keep(self, anchor: int, start: int, end: int, *, charged: bool) -> None:
        """Keep the pages of ``[start, end)`` inside the sparse segment holding ``anchor``;
        a ``charged`` range is kept only if the budget has room for its new pages."""
        i = bisect.bisect_right(self.starts, anchor) - 1
        seg = self.find(anchor)
        if seg is None:
            return
        pages = self.kept[self.index[i]]
        start, end = max(_page(start), seg.p_vaddr), min(_up(end), seg.p_vaddr + seg.p_filesz)
        new = [p for p in range(start, end, PAGE) if p not in pages]
        if charged:
            if len(new) * PAGE > self.budget:
                self.left_out += 1
                return
            self.budget -= len(new) * PAGE
        pages.update(new)

    def ranges(self) -> dict[int, list[tuple[int, int]]]:
        out: dict[int, list[tuple[int, int]]] = {}
        for i, pages in self.kept.items():
            runs: list[tuple[int, int]] = []
            for p in sorted(pages):
                if runs and runs[-1][1] == p:
                    runs[-1] = (runs[-1][0], p + PAGE)
                else:
                    runs.append((p, p + PAGE))
            out[i] = runs
        return out


def _chunk_end(memory: Memory, space: _Space, v: int, tier: Tier, order: str) -> int | None:
    """The end of the glibc chunk whose user memory starts at ``v``, within the tier's bound."""
    if v % MALLOC_ALIGN:
        return None
    raw = memory.read(v - 8, 8)
    if raw is None or len(raw) < 8:
        return None
    (size_field,) = struct.unpack(order + "Q", raw)
    size = size_field & ~0x7
    seg = space.find(v)
    if size < MIN_CHUNK or size % MALLOC_ALIGN or seg is None:
        return None
    if size_field & IS_MMAPPED and (v - 16) % PAGE:
        return None  # mmap_chunk: the chunk starts its own mapping
    return min(v - 16 + size, v + tier.chunk)


def _window(memory: Memory, space: _Space, v: int, tier: Tier, order: str) -> None:
    """Keep the page before ``v`` (a chunk header, a C++ exception header) up to the tier's
    reach after it."""
    end = _chunk_end(memory, space, v, tier, order) or 0
    space.keep(v, _page(v) - PAGE, max(end, v + tier.forward), charged=True)


def _words(data: bytes, order: str) -> list[int]:
    n = len(data) // 8
    return list(dict.fromkeys(struct.unpack_from(f"{order}{n}Q", data))) if n else []


def _pointers(space: _Space, values: Iterable[int]) -> list[int]:
    """The values that point into a sparse segment, outside the stacks already kept."""
    lo = space.starts[0] if space.starts else 1
    return [v for v in values if v >= lo and space.find(v) is not None and not space.in_stack(v)]


def plan(head: Head, memory: Memory, budget: int) -> Plan:
    """The ranges to keep of each sparse PT_LOAD, reading stack and data words from ``memory``."""
    whole = whole_segments(head)
    loads = [i for i, p in enumerate(head.phdrs) if p.p_type == PT_LOAD]
    space = _Space(head, [i for i in loads if i not in whole], budget)
    kept: list[tuple[int, int] | None] = []
    for n, thread in enumerate(head.threads):
        seg = space.stack_of(thread.sp)
        if seg is None:
            kept.append(None)
            continue
        start = max(seg.p_vaddr, thread.sp - RED_ZONE)
        end = min(seg.p_vaddr + seg.p_filesz, start + (CRASHED_STACK if n == 0 else THREAD_STACK))
        space.keep(seg.p_vaddr, start, end, charged=False)
        space.stacks.append((start, end))
        kept.append((start, end))
    space.stacks.sort()
    stacks: list[tuple[Tier, list[int], list[int]]] = []
    for n, (thread, stack) in enumerate(zip(head.threads, kept, strict=True)):
        data = memory.read(stack[0], stack[1] - stack[0]) or b"" if stack else b""
        words = _pointers(space, _words(data, head.order))
        stacks.append((CRASHED if n == 0 else OTHER, _pointers(space, thread.regs), words))
    tier, regs, words = stacks[0]
    for v in [*regs, *words]:
        _window(memory, space, v, tier, head.order)
    if head.signo in FAULT_SIGNALS and space.find(head.fault_address or 0) is not None:
        fault = head.fault_address or 0
        space.keep(fault, fault - FAULT_REACH, fault + FAULT_REACH, charged=True)
        _window(memory, space, fault, CRASHED, head.order)
    for tier, regs, words in stacks[1:]:
        for v in [*regs, *words]:
            _window(memory, space, v, tier, head.order)
    scan = DATA_SCAN
    for i in sorted(whole, key=lambda i: head.phdrs[i].p_vaddr):
        seg = head.phdrs[i]
        if seg.p_flags & PF_W and 0 < seg.p_filesz <= scan:
            scan -= seg.p_filesz
            data = memory.read(seg.p_vaddr, seg.p_filesz) or b""
            for v in _pointers(space, _words(data, head.order)):
                _window(memory, space, v, DATA, head.order)
    for start in space.starts:  # the heap analysis looks for glibc's tcache header there
        space.keep(start, start, start + PAGE, charged=True)
    facts: dict[str, object] = {"windows_left_out": space.left_out, "budget_left": space.budget}
    return Plan(space.ranges(), facts)
