"""sparse.write_runs: every non-zero block written, each run of them in one pwrite, zero blocks
left as holes; blocks counted from ``start``, the last one possibly shorter."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from coresnap.capture import pipe, sparse
from coresnap.capture.sparse import BLOCK, ZERO_RUN
from coresnap.cli import archive as archive_entry


def _expected_runs(data: bytes, offset: int, start: int, end: int) -> list[tuple[int, bytes]]:
    """The definition, block by block: (file offset, bytes) of each maximal non-zero run."""
    runs: list[tuple[int, bytes]] = []
    run = -1
    for i in range(start, end, BLOCK):
        block = data[i : min(i + BLOCK, end)]
        if block.count(0) == len(block):
            if run >= 0:
                runs.append((offset + run - start, data[run:i]))
                run = -1
        elif run < 0:
            run = i
    if run >= 0:
        runs.append((offset + run - start, data[run:end]))
    return runs


def _calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, bytes]]:
    calls: list[tuple[int, bytes]] = []

    def pwrite(fd: int, data: memoryview, offset: int) -> int:
        calls.append((offset, bytes(data)))
        return len(data)

    monkeypatch.setattr(sparse.os, "pwrite", pwrite)
    return calls


def _shapes(rng: random.Random) -> bytes:
    """A buffer of zero blocks, non-zero blocks, zero runs that straddle block boundaries, and
    blocks that are zero but for one byte (at either end)."""
    out = bytearray()
    for _ in range(rng.randrange(1, 40)):
        kind = rng.randrange(6)
        if kind == 0:
            out += bytes(BLOCK * rng.randrange(1, 20))
        elif kind == 1:
            out += rng.randbytes(BLOCK * rng.randrange(1, 4))
        elif kind == 2:  # zeros not on a boundary, longer than a block
            out += b"\1" * rng.randrange(1, BLOCK) + bytes(BLOCK + rng.randrange(BLOCK))
        elif kind == 3:
            block = bytearray(BLOCK)
            block[rng.choice((0, BLOCK - 1, rng.randrange(BLOCK)))] = 7
            out += block
        elif kind == 4:
            out += bytes(ZERO_RUN * rng.randrange(1, 3) + rng.randrange(0, 3 * BLOCK))
        else:
            out += rng.randbytes(rng.randrange(1, 3 * BLOCK))
    return bytes(out)


@pytest.mark.parametrize("seed", range(60))
def test_write_runs_matches_the_block_by_block_definition(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(seed)
    data = _shapes(rng)
    start = rng.choice((0, 0, rng.randrange(len(data))))
    end = rng.choice((len(data), rng.randrange(start, len(data) + 1)))
    offset = rng.randrange(1 << 20)
    calls = _calls(monkeypatch)
    for buffer in (data, bytearray(data)):
        calls.clear()
        written = sparse.write_runs(3, buffer, offset, start, end)
        want = _expected_runs(data, offset, start, end)
        assert calls == want
        assert written == sum(len(b) for _, b in want)


@pytest.mark.parametrize(
    "data",
    [b"", bytes(BLOCK), bytes(ZERO_RUN * 3), b"\1" * 10, bytes(BLOCK - 1), bytes(BLOCK + 1),
     bytes(BLOCK) + b"\1", b"\1" + bytes(2 * BLOCK - 1), bytes(BLOCK - 1) + b"\1" + bytes(BLOCK)],
)  # fmt: skip
def test_write_runs_edges(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _calls(monkeypatch)
    written = sparse.write_runs(3, data, 100)
    want = _expected_runs(data, 100, 0, len(data))
    assert calls == want
    assert written == sum(len(b) for _, b in want)


def test_stream_leaves_holes(tmp_path: Path) -> None:
    data = bytes(ZERO_RUN) + b"x" * BLOCK + bytes(3 * BLOCK) + b"y" * 100
    (tmp_path / "in").write_bytes(data)
    out = tmp_path / "core"
    fd = os.open(out, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        with open(tmp_path / "in", "rb", buffering=0) as src:
            result = sparse.stream(src, fd, 1 << 30)
    finally:
        os.close(fd)
    assert out.read_bytes() == data
    assert out.stat().st_blocks * 512 < len(data)  # holes (on a file system that has them)
    assert (result.size, result.written, result.truncated) == (len(data), BLOCK + 100, False)


def _has_cap_sys_resource() -> bool:
    status = Path("/proc/self/status").read_text()
    effective = int(next(line.split()[1] for line in status.splitlines()
                         if line.startswith("CapEff:")), 16)  # fmt: skip
    return bool(effective >> 24 & 1)  # CAP_SYS_RESOURCE


def test_the_handler_widens_its_pipe_before_its_imports() -> None:
    """coresnap-archive widens the kernel's pipe first thing (the kernel writes into it while
    Python imports): beyond fs.pipe-max-size with CAP_SYS_RESOURCE (the kernel's helper has
    it; a sandboxed root may not), else to 1 MiB; a later, smaller widening never narrows it."""
    probe = (
        "import fcntl, sys\n"
        "from coresnap.cli import archive\n"
        "assert 'coresnap.capture.archive' not in sys.modules\n"  # nothing heavy before
        "assert 'coresnap.capture.sparse' not in sys.modules\n"  # nor the stream's typing
        "from coresnap.capture import pipe\n"
        "pipe.widen(0, archive.EARLY_PIPE, archive.FALLBACK_PIPE)\n"
        "wide = fcntl.fcntl(0, pipe.F_GETPIPE_SZ)\n"
        "from coresnap.capture import sparse\n"
        "pipe.widen(0, sparse.READ_SIZE)\n"
        "print(wide, fcntl.fcntl(0, pipe.F_GETPIPE_SZ))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], stdin=subprocess.PIPE,
                          capture_output=True, text=True, check=True)  # fmt: skip
    wide, after = map(int, done.stdout.split())
    expected = archive_entry.EARLY_PIPE if _has_cap_sys_resource() else archive_entry.FALLBACK_PIPE
    assert wide == expected and after == wide


def test_widen_ignores_what_is_not_a_pipe(tmp_path: Path) -> None:
    with open(tmp_path / "f", "wb") as f:
        pipe.widen(f.fileno(), archive_entry.EARLY_PIPE, sparse.READ_SIZE)  # no error
