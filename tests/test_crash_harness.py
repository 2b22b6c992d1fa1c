"""The crash harness itself: a real program, a real signal, a real kernel core."""

from __future__ import annotations

import signal
import struct
from pathlib import Path

from tests.crashes import build, crash


def test_null_deref_leaves_a_kernel_core(tmp_path: Path) -> None:
    src = tmp_path / "null.c"
    src.write_text("int main(void) { volatile int *p = 0; *p = 1; return 0; }\n")
    result = crash(build(src), cwd=tmp_path / "run", expect_signal=signal.SIGSEGV)
    head = result.core.read_bytes()[:64]
    assert head[:4] == b"\x7fELF"
    (e_type,) = struct.unpack_from("<H", head, 16)
    assert e_type == 4  # ET_CORE
    assert result.core.name == f"core.{result.pid}"
