"""What the analysis rules see: the snapshot's plain data plus, while the core is at hand, memory.

Rules never touch a core or a drgn program directly. They ask this context for the crashed
thread, its registers, the mapping that holds an address, or a few bytes of memory. Facts that
need memory (the faulting instruction's bytes, the abort message, the heap verdict) are
*observations*: they are recorded in the classification so a later re-run on the stored snapshot
(no core) sees the same facts and only the rules change.
"""

from __future__ import annotations

import bisect
import functools
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import drgn

from coresnap.analysis import document
from coresnap.errors import CoresnapError

if TYPE_CHECKING:
    from coresnap.unwind.symbols import SymbolTable

# The kernel's default vm.mmap_min_addr on x86_64 is 4096 and distributions raise it to 65536;
# nothing is ever mapped below 64 KiB, so a fault there came from a NULL base plus an offset.
NULL_PAGE_LIMIT = 0x10000


# What reading through a drgn Program raises: a missing symbol or type (LookupError), an address
# outside the core (FaultError), an optimized-out object (ObjectAbsentError), a bad cast.
DRGN_ERRORS: tuple[type[Exception], ...] = (
    LookupError,
    ValueError,
    TypeError,
    drgn.FaultError,
    drgn.ObjectAbsentError,
)
READ_ERRORS: tuple[type[Exception], ...] = (CoresnapError, OSError, *DRGN_ERRORS)


class MemoryReader(Protocol):
    """Anything that reads process memory: ``read(address, size) -> bytes`` (raises on a hole)."""

    def read(self, address: int, size: int) -> bytes: ...


@dataclass
class Mapping:
    """One entry of the snapshot's ``memory_map``."""

    start: int
    end: int
    perms: str
    path: str | None
    offset: int

    @property
    def executable(self) -> bool:
        return "x" in self.perms

    @property
    def writable(self) -> bool:
        return "w" in self.perms


def _memory_of(core: Any) -> MemoryReader | None:
    """The memory reader of an opened core: ``coresnap.corefile`` ``Core`` or a drgn Program."""
    if core is None:
        return None
    memory = getattr(core, "memory", None)
    if memory is not None and hasattr(memory, "read"):
        return memory
    if hasattr(core, "read"):
        return _DrgnMemory(core)
    return None


class _DrgnMemory:
    def __init__(self, program: Any) -> None:
        self.program = program

    def read(self, address: int, size: int) -> bytes:
        return bytes(self.program.read(address, size))


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _addr(value: object) -> int | None:
    """An integer that can be a 64-bit address or register value; None for anything else."""
    v = _int(value)
    return v if v is not None and 0 <= v < 1 << 64 else None


@functools.lru_cache(maxsize=64)
def _symbols(path: str) -> SymbolTable | None:
    # Imported here: pyelftools and the unwinder cost ~40 ms to import, and most snapshots
    # never look up a symbol in a file.
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    from coresnap.unwind.symbols import read_symbols

    try:
        with open(path, "rb") as f:
            return read_symbols(ELFFile(f))
    except (OSError, ELFError):
        return None


def _symbol(path: str, address: int) -> str | None:
    """The name of the function at link-time ``address`` of the ELF file ``path``, if any."""
    table = _symbols(path) if os.path.isfile(path) else None
    found = table.lookup(address) if table is not None else None
    return found[0].name if found else None


@dataclass
class Context:
    """The snapshot plus optional memory, with the lookups rules share."""

    snapshot: dict[str, Any]
    memory: MemoryReader | None = None
    program: Any = None  # a drgn Program, when the caller has one (heap walks with debug info)
    observations: dict[str, Any] = field(default_factory=dict)
    previous: dict[str, Any] = field(default_factory=dict)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, snapshot: dict[str, Any], core: Any = None) -> Context:
        """Wrap ``snapshot``; ``core`` is an opened core (or drgn Program) or None."""
        old = snapshot.get("classification")
        previous = old.get("observations", {}) if isinstance(old, dict) else {}
        # A drgn Program (it can set a core dump); a coresnap Core may carry one as ``program``.
        program = core if hasattr(core, "set_core_dump") else getattr(core, "program", None)
        return cls(
            snapshot,
            _memory_of(core),
            program,
            previous=previous if isinstance(previous, dict) else {},
        )

    def observe(self, name: str, compute: Callable[[], Any]) -> Any:
        """A memory-derived fact: computed while memory is at hand, else the stored one."""
        if name in self.observations:
            return self.observations[name]
        value = None
        if self.memory is not None or self.program is not None:
            value = compute()
        elif name in self.previous:
            value = self.previous[name]
        self.observations[name] = value
        return value

    def memo(self, name: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per context: facts several rules derive from memory (the heap walk)."""
        if name not in self._memo:
            self._memo[name] = compute()
        return self._memo[name]

    # --- what the snapshot says -------------------------------------------------------------

    @property
    def signal(self) -> dict[str, Any]:
        return document.signal(self.snapshot)

    @property
    def signo(self) -> int | None:
        return _int(self.signal.get("number"))

    @property
    def si_code(self) -> int | None:
        return _int(self.signal.get("code"))

    @property
    def fault_address(self) -> int | None:
        return _addr(self.signal.get("address"))

    @property
    def pid(self) -> int | None:
        process = self.snapshot.get("process")
        return _int(process.get("pid")) if isinstance(process, dict) else None

    @property
    def crashed_thread(self) -> dict[str, Any] | None:
        return document.crashed_thread(self.snapshot)

    @property
    def frames(self) -> list[dict[str, Any]]:
        thread = self.crashed_thread or {}
        return [f for f in thread.get("frames") or [] if isinstance(f, dict)]

    @property
    def registers(self) -> dict[str, int]:
        thread = self.crashed_thread or {}
        regs = thread.get("registers") or {}
        if not isinstance(regs, dict):
            return {}
        return {str(k): v for k, v in regs.items() if _addr(v) is not None}

    @property
    def pc(self) -> int | None:
        regs = self.registers
        for name in ("rip", "eip", "pc", "nip"):  # x86-64, i386, most RISC ABIs, powerpc
            if name in regs:
                return regs[name]
        return _addr(self.frames[0].get("pc")) if self.frames else None

    @property
    def sp(self) -> int | None:
        regs = self.registers
        return next((regs[n] for n in ("rsp", "sp", "esp") if n in regs), None)

    def mappings(self) -> list[Mapping]:
        """The memory map, sorted by address (read from the snapshot once)."""
        return list(self.memo("mappings", self._read_mappings))

    def _read_mappings(self) -> list[Mapping]:
        out = []
        for m in self.snapshot.get("memory_map") or []:
            if not isinstance(m, dict):
                continue
            start, end = _addr(m.get("start")), _addr(m.get("end"))
            if start is None or end is None or end <= start:
                continue
            perms = str(m.get("perms") or "???")
            out.append(Mapping(start, end, perms, m.get("path"), _int(m.get("offset")) or 0))
        return sorted(out, key=lambda m: m.start)

    def mapping_at(self, address: int) -> Mapping | None:
        found: list[Mapping] = self.memo("mappings", self._read_mappings)
        starts: list[int] = self.memo("mapping_starts", lambda: [m.start for m in found])
        i = bisect.bisect_right(starts, address) - 1
        return found[i] if i >= 0 and address < found[i].end else None

    def function_names(self) -> list[str]:
        return [str(f.get("function")) for f in self.frames if f.get("function")]

    def describe_address(self, address: int) -> dict[str, Any]:
        """The module, offset and (with a drgn program) function that contain ``address``."""
        out: dict[str, Any] = {}
        for m in self.snapshot.get("modules") or []:
            start, end = _addr(m.get("start")), _addr(m.get("end"))
            if start is not None and end is not None and start <= address < end:
                out["module"], out["module_offset"] = m.get("path"), address - start
                bias = _int(m.get("load_bias"))
                name = _symbol(str(m.get("path")), address - (start if bias is None else bias))
                if name:
                    out["function"] = name
        if self.program is not None and "function" not in out:
            try:
                out["function"] = self.program.symbol(address).name
            except DRGN_ERRORS:
                pass
        return out

    def symbol_at(self, address: int) -> tuple[str, int] | None:
        """The function symbol holding ``address`` and its run-time start, from the module's
        symbol table; None outside every module or without a symbol."""
        for m in self.snapshot.get("modules") or []:
            start, end = _addr(m.get("start")), _addr(m.get("end"))
            path = str(m.get("path"))
            if start is None or end is None or not start <= address < end:
                continue
            bias = _int(m.get("load_bias"))
            bias = start if bias is None else bias
            table = _symbols(path) if os.path.isfile(path) else None
            found = table.lookup(address - bias) if table is not None else None
            if found:
                return found[0].name, found[0].start + bias
        return None

    # --- memory ----------------------------------------------------------------------------

    def read(self, address: int, size: int) -> bytes | None:
        """``size`` bytes at ``address`` from the core, else from the mapped file; None if neither."""
        if not 0 <= address < 1 << 64 or size <= 0:
            return None
        if self.memory is not None:
            try:
                data = self.memory.read(address, size)
                if len(data) == size:
                    return data
            except READ_ERRORS:
                pass
        return self._read_file_backed(address, size)

    def _read_file_backed(self, address: int, size: int) -> bytes | None:
        m = self.mapping_at(address)
        if m is not None and not m.path and not m.writable:
            # A core that names no files (NetBSD): the unwinder placed the frames' modules.
            return self._read_frame_module(address, size)
        # Only read-only mappings: a writable one (.data) has changed since the file was mapped.
        if (
            m is None
            or m.writable
            or not m.path
            or address + size > m.end
            or not os.path.isfile(m.path)
        ):
            return None
        try:
            with open(m.path, "rb") as f:
                f.seek(m.offset + address - m.start)
                data = f.read(size)
        except OSError:
            return None
        return data if len(data) == size else None

    def _read_frame_module(self, address: int, size: int) -> bytes | None:
        """Code bytes from the file of a frame's module: the module's start is ``pc -
        module_offset``; the address goes through the file's read-only ``PT_LOAD`` segments."""
        for frame in self.frames:
            path, offset, pc = frame.get("module"), frame.get("module_offset"), frame.get("pc")
            if not isinstance(path, str) or not isinstance(offset, int) or not isinstance(pc, int):
                continue
            data = _read_loaded(path, pc - offset, address, size)
            if data is not None:
                return data
        return None

    def word(self, address: int) -> int | None:
        data = self.read(address, 8)
        return struct.unpack("<Q", data)[0] if data else None


def _read_loaded(path: str, start: int, address: int, size: int) -> bytes | None:
    """``size`` bytes at ``address`` of the file ``path`` loaded with its first segment at
    ``start`` (its object file as the unwinder opened it, cached); None unless they lie in one
    read-only segment's file bytes."""
    from elftools.common.exceptions import ELFError

    from coresnap.errors import UnwindError
    from coresnap.unwind import cache

    try:
        obj = cache.object_for_path(path, None)
        loads = [s for s in obj.elf.iter_segments() if s["p_type"] == "PT_LOAD"]
    except (OSError, UnwindError, ELFError):
        return None
    vaddr = obj.link_base + address - start
    for seg in loads:
        writable = seg["p_flags"] & 2
        if (
            not writable
            and seg["p_vaddr"] <= vaddr
            and vaddr + size <= seg["p_vaddr"] + seg["p_filesz"]
        ):
            try:
                with open(path, "rb") as f:
                    f.seek(seg["p_offset"] + vaddr - seg["p_vaddr"])
                    data = f.read(size)
            except OSError:
                return None
            return data if len(data) == size else None
    return None
