"""Which module holds a pc, and the opened file behind it (with its load bias).

Files come from the module's path in the core (``file_resolver`` may redirect it, e.g. into
a sysroot) and are used only when their build id matches the core's; the vDSO, which has no
file, is read from the core's memory.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Callable
from dataclasses import dataclass

from coresnap.corefile.model import Module
from coresnap.errors import CoresnapError, MemoryUnavailable, UnwindError
from coresnap.unwind import cache
from coresnap.unwind.frames import CoreLike
from coresnap.unwind.objfile import ObjectFile

FileResolver = Callable[[str, "str | None"], "str | None"]
MAX_IMAGE = 1 << 20  # an in-memory ELF image (the vDSO) is a few pages; refuse huge ones


@dataclass
class LoadedModule:
    module: Module
    obj: ObjectFile | None
    bias: int  # run-time address = link-time address + bias


class ModuleMap:
    """The core's modules sorted by start, each opened on first use."""

    def __init__(
        self, core: CoreLike, file_resolver: FileResolver | None, notes: list[str]
    ) -> None:
        self.core = core
        self.resolver = file_resolver
        self.notes = notes
        try:
            listed = list(core.modules)
        except CoresnapError as exc:  # the reader could not place the modules: unwind without
            notes.append(f"modules: {exc}")
            listed = []
        self.listed = listed
        self.modules = sorted([*listed, *self._executable_fallback()], key=lambda m: m.start)
        self._starts = [m.start for m in self.modules]
        self._loaded: dict[int, LoadedModule] = {}

    def find(self, pc: int) -> LoadedModule | None:
        """The module whose [start, end) holds ``pc``, opened; None if no module does."""
        i = bisect.bisect_right(self._starts, pc) - 1
        if i < 0 or pc >= self.modules[i].end:
            return None
        if i not in self._loaded:
            self._loaded[i] = self._load(self.modules[i])
        return self._loaded[i]

    def _load(self, module: Module) -> LoadedModule:
        obj = self._open(module)
        if obj is None:
            return LoadedModule(module, None, module.load_bias or 0)
        bias = module.load_bias if module.load_bias is not None else module.start - obj.link_base
        return LoadedModule(module, obj, bias)

    def _open(self, module: Module) -> ObjectFile | None:
        path: str | None = module.path
        if self.resolver is not None:
            path = self.resolver(module.path, module.build_id)
        obj = None
        try:
            if path is not None and os.path.isfile(path):
                obj = cache.object_for_path(path, module.build_id)
            else:
                obj = self._from_memory(module)
        except (OSError, UnwindError) as exc:
            self.notes.append(f"{module.path}: {exc}")
            return None
        if obj is None:
            self.notes.append(f"{module.path}: file not found")
            return None
        if module.build_id and obj.build_id and module.build_id != obj.build_id:
            self.notes.append(
                f"{module.path}: build id {obj.build_id} on disk, {module.build_id} in the core"
            )
            return None
        self.notes.extend(p for p in obj.problems if p not in self.notes)
        return obj

    def _executable_fallback(self) -> list[Module]:
        """The main executable from the auxiliary vector, when no module holds ``AT_ENTRY``.

        NetBSD cores name no mapped files (no ``NT_FILE``): the executable is then placed by
        ``AT_PHDR`` (where its program headers were mapped) and found through the resolver
        under its ``AT_SUN_EXECNAME`` path or ``pr_fname``.
        """
        aux = {e.name: e.a_val for e in getattr(self.core, "auxv", [])}
        entry, phdr = aux.get("AT_ENTRY"), aux.get("AT_PHDR")
        if entry is None or phdr is None or any(m.start <= entry < m.end for m in self.listed):
            return []
        path = self._exec_name(aux)
        if path is None:
            return []
        local = self.resolver(path, None) if self.resolver is not None else path
        if local is None or not os.path.isfile(local):
            return []
        try:
            obj = cache.object_for_path(local, None)
        except (OSError, UnwindError) as exc:
            self.notes.append(f"{path}: {exc}")
            return []
        loads = [s for s in obj.elf.iter_segments() if s["p_type"] == "PT_LOAD"]
        first = min(loads, key=lambda s: s["p_vaddr"]) if loads else None
        if first is None:
            return []
        bias = phdr - (first["p_vaddr"] - first["p_offset"] + obj.elf["e_phoff"])
        end = max(s["p_vaddr"] + s["p_memsz"] for s in loads) + bias
        return [
            Module(
                path=local, start=obj.link_base + bias, end=end, load_bias=bias, is_executable=True
            )
        ]

    def _exec_name(self, aux: dict[str, int]) -> str | None:
        process = getattr(self.core, "process", None)
        exe = getattr(process, "exe", None)
        if exe:
            return str(exe)
        if "AT_SUN_EXECNAME" in aux:
            try:
                raw = self.core.memory.read(aux["AT_SUN_EXECNAME"], 1024)
            except MemoryUnavailable:
                raw = b""
            if b"\0" in raw:
                return os.fsdecode(raw.split(b"\0", 1)[0])
        fname = getattr(process, "fname", None)
        return str(fname) if fname else None

    def _from_memory(self, module: Module) -> ObjectFile | None:
        # The module's end is its last PT_LOAD's; the section headers (and so .eh_frame's
        # name) may lie past it, inside the same page-rounded mapping.
        end = module.end
        for mapping in getattr(self.core, "mappings", []):
            if mapping.start <= module.start < mapping.end:
                end = max(end, mapping.end)
        size = end - module.start
        if size > MAX_IMAGE:
            return None
        try:
            image = self.core.memory.read(module.start, size)
        except MemoryUnavailable:
            return None
        if not image.startswith(b"\x7fELF"):
            return None
        return cache.object_for_image(module.path, module.build_id, image)
