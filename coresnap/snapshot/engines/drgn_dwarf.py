"""What the drgn engine reads from DWARF and CFI itself, where drgn 0.3.0 gives nothing:

- the scope chain at a pc (function, inlined calls, their names the way gdb spells them): drgn
  names inline C++ frames by ``DW_AT_name`` only (``total``, gdb: ``shop::Catalog<int>::total``)
  and skips Rust units altogether (no function names, no inline frames);
- the ``.eh_frame`` FDE holding a pc, whose start is the function's start when a stripped
  binary has no symbol for it.

Both go through :mod:`coresnap.unwind` (pyelftools, the scope index), imported on first use so
that a snapshot that needs neither (C with symbols) does not pay for it. Files are opened once
per module; a module whose file cannot be read is remembered as such.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import drgn

from coresnap.snapshot.engines.drgn_inflate import debug_file_path

if TYPE_CHECKING:
    from coresnap.unwind.debuginfo import Scope
    from coresnap.unwind.objfile import ObjectFile


class DwarfReader:
    """Scope chains and FDE starts for the modules of one drgn program, cached."""

    def __init__(self, warnings: list[str]) -> None:
        self.warnings = warnings
        self._objects: dict[tuple[str, str], ObjectFile | None] = {}
        self._chains: dict[tuple[str, int], list[Scope]] = {}

    def chain(self, module: drgn.Module, address: int) -> list[Scope]:
        """Function and inlined calls holding run-time ``address``, outermost first ([] when
        the module has no usable DWARF there)."""
        key = (module.name, address)
        if key not in self._chains:
            self._chains[key] = self._chain(module, address)
        return self._chains[key]

    def _chain(self, module: drgn.Module, address: int) -> list[Scope]:
        path = debug_file_path(module)
        bias = module.debug_file_bias
        if module.debug_file_status != drgn.ModuleFileStatus.HAVE or not path or bias is None:
            return []
        obj = self._object(module, path)
        debug = obj.debug if obj is not None else None
        if debug is None:
            return []
        try:
            return debug.scopes(address - bias)
        except Exception as e:  # noqa: BLE001 - pyelftools raises many types on bad DWARF
            self._warn(f"{path}: debug info at {address - bias:#x}: {type(e).__name__}: {e}")
            return []

    def fde_start(self, module: drgn.Module, address: int) -> int | None:
        """Run-time start of the FDE (``.eh_frame``, else ``.debug_frame``) holding ``address``."""
        path = module.loaded_file_path
        bias = module.loaded_file_bias
        if not path or bias is None:
            return None
        obj = self._object(module, path)
        if obj is None:
            return None
        try:
            entry = obj.find_frame(address - bias)
        except Exception as e:  # noqa: BLE001 - pyelftools raises many types on bad CFI
            self._warn(f"{path}: call frame info at {address - bias:#x}: {type(e).__name__}: {e}")
            return None
        return None if entry is None else entry.start + bias

    def _object(self, module: drgn.Module, path: str) -> ObjectFile | None:
        key = (module.name, path)
        if key not in self._objects:
            from coresnap.errors import UnwindError
            from coresnap.unwind import cache

            build_id = module.build_id.hex() if module.build_id else None
            try:
                self._objects[key] = cache.object_for_path(path, build_id)
            except (OSError, UnwindError) as e:
                self._warn(f"{path}: {e}")
                self._objects[key] = None
        return self._objects[key]

    def _warn(self, what: str) -> None:
        if what not in self.warnings:
            self.warnings.append(what)
