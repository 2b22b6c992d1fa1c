"""Kernel dump texts are written by a kernel that just failed: every parser must take any bytes
(cut, flipped, repeated, binary) and give a valid snapshot or a KernelDumpError, quickly."""

from __future__ import annotations

import random
import time

from coresnap.errors import KernelDumpError
from coresnap.kernel import reader
from coresnap.kernel.snapshot import build_kernel_snapshot
from coresnap.snapshot.format import validate
from tests.kernel.kernel_samples import Variant, core_txt, info, textdump_members


def mutate(rng: random.Random, text: str) -> str:
    data = bytearray(text.encode())
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(4)
        at = rng.randrange(len(data) + 1)
        if op == 0:  # cut here
            del data[at:]
        elif op == 1 and data:  # flip bytes
            for i in range(at, min(len(data), at + rng.randint(1, 64))):
                data[i] = rng.randrange(256)
        elif op == 2:  # repeat a chunk (a message buffer that wrapped)
            data[at:at] = data[at : at + rng.randint(1, 4096)] * rng.randint(1, 20)
        else:  # drop a chunk
            del data[at : at + rng.randint(1, 512)]
    return data.decode("utf-8", errors="replace")


def test_mutated_texts_give_snapshots_or_clean_errors() -> None:
    rng = random.Random(20261129)
    v = Variant()
    sources = [
        {"info": info(v, "page fault", "FreeBSD 14.1-RELEASE x GENERIC", "m", 2, 1), "core.txt": core_txt(v)},
        {"info": info(v, "page fault", "FreeBSD 13.2-RELEASE y GENERIC", "m", 1, 1),
         **textdump_members(v)},
        {"info": info(v, "x", "FreeBSD 13.2-RELEASE y GENERIC", "m", 1, 1),
         **textdump_members(v, "assert")},
    ]  # fmt: skip
    start, made = time.monotonic(), 0
    for i in range(300):
        texts = {k: mutate(rng, t) if rng.random() < 0.7 else t
                 for k, t in sources[i % len(sources)].items() if rng.random() < 0.9}  # fmt: skip
        try:
            dump = reader.read_dump(texts)
        except KernelDumpError:
            continue
        validate(build_kernel_snapshot(dump))
        made += 1
    assert made > 200 and time.monotonic() - start < 60


def test_a_huge_repeated_backtrace_is_bounded() -> None:
    line = "recurse() at recurse+0x12/frame 0xfffffe00c5a2e870\n"
    text = "db:0:kdb.enter.panic>  bt\nTracing pid 1 tid 100001 td 0x0\n" + line * 200_000
    start = time.monotonic()
    s = build_kernel_snapshot(reader.read_dump({"ddb.txt": text}))
    assert len(s["threads"][0]["frames"]) == 256 and time.monotonic() - start < 10
    assert s["fingerprint"]["frames"] == ["kernel!recurse"]  # recursion collapsed
