"""sparse.write_runs: every non-zero block written, each run of them in one pwrite, zero blocks
left as holes; blocks counted from ``start``, the last one possibly shorter."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from coresnap.capture import sparse
from coresnap.capture.sparse import BLOCK, ZERO_RUN


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
