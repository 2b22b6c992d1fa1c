"""Whether a pc runs V8's own code (its embedded builtins, the interpreter among them), even
when that code runs from a copy in anonymous memory.

Two copies happen in practice. With short builtin calls V8 copies the whole embedded blob next
to its JIT code when ASLR put the code range too far from the binary for 32-bit calls
(src/heap/code-range.cc CodeRange::RemapEmbeddedBuiltins); with
``--interpreted-frames-native-stack`` (how Node services are profiled with perf) every
interpreted function gets its own copy of InterpreterEntryTrampoline
(src/builtins/builtins.cc CreateInterpreterEntryTrampolineForProfiling). Both are byte copies,
so the instructions around a return address into one are found, once, in the binary's blob.
"""

from __future__ import annotations

from coresnap.analysis.v8.heap import Heap

_BEFORE, _AFTER = 32, 16  # bytes around a return address compared: the call and what follows
MAX_BLOB = 64 << 20  # an embedded blob larger than this is not read


class Builtins:
    """Tells the pcs of V8's embedded builtins, in the binary or copied."""

    def __init__(self, heap: Heap) -> None:
        self._heap = heap
        blob = heap.meta.blob
        self._blob = blob if blob is not None and 0 < blob[1] <= MAX_BLOB else None
        self._bytes: bytes | None = None
        self._seen: dict[int, bool] = {}

    def contains(self, pc: int) -> bool:
        """``pc`` returns into the builtins or a copy of them (False also when the binary no
        longer names its blob: ``current_embedded_blob_code_`` is a local symbol, stripped)."""
        if self._blob is None:
            return False
        start, size = self._blob
        if start <= pc < start + size:
            return True
        if pc not in self._seen:
            window = self._heap.read(pc - _BEFORE, _BEFORE + _AFTER)
            blob = self._blob_bytes()
            # The same dispatch sequence ends several interpreter entries: any place will do.
            self._seen[pc] = window is not None and blob is not None and window in blob
        return self._seen[pc]

    def _blob_bytes(self) -> bytes | None:
        if self._bytes is None and self._blob is not None:
            self._bytes = self._heap.read(*self._blob) or b""
        return self._bytes or None
