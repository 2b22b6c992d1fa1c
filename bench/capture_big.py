"""A process with a 2 GiB dense heap crashes: crash -> snapshot committed, with coresnap-archive
writing the whole core (as before issue 15) or a minicore (dump.keep), and coresnapd's warm
worker making the snapshot; beside ``cat > /dev/null`` on the same kernel pipe (the floor: the
kernel writing the core). The three take turns in each round; best and median shown; ratios."""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench._capture import (
    DENSE_HEAP,
    archive_pattern,
    core_pattern_held,
    coresnapd,
    crash_when_ready,
    crashes,
    load_average,
    names,
    new_name,
    set_pattern,
    write_conf,
)
from coresnap.spool.assets import read_metadata

MIB = int(os.environ.get("CORESNAP_BENCH_BIG_CORE_MIB", "2048"))
ROUNDS = int(os.environ.get("CORESNAP_BENCH_ROUNDS", "2"))
CAT = "|/bin/sh -c cat>/dev/null"
MODES = ("cat", "full", "minicore")


@dataclass
class Samples:
    dumped: list[float] = field(default_factory=list)  # crash -> process gone (core handled)
    committed: list[float] = field(default_factory=list)  # crash -> snapshot committed
    written: list[int] = field(default_factory=list)  # bytes written: core, assets, snapshot
    core_size: int = 0


def _run(mode: str, exe: Path, conf: Path, dumps: Path, samples: Samples) -> None:
    if mode == "cat":
        set_pattern(CAT)
        samples.dumped.append(crash_when_ready(exe, [str(MIB)])[1])
        return
    text = conf.read_text().replace("dump.keep = full", f"dump.keep = {mode}")
    conf.write_text(text.replace("dump.keep = minicore", f"dump.keep = {mode}"))
    set_pattern(archive_pattern(conf))
    before = names(dumps / "committed")
    started, dumped = crash_when_ready(exe, [str(MIB)])
    samples.dumped.append(dumped)
    dump_id = new_name(dumps / "committed", before)
    samples.committed.append(time.monotonic() - started)
    meta = read_metadata(dumps / "assets" / dump_id)
    snapshot = (dumps / "committed" / dump_id).stat().st_size
    assets = (dumps / "assets" / dump_id).stat().st_size
    samples.written.append(meta["core"]["written"] + assets + snapshot)
    samples.core_size = meta["core"]["stream_bytes"]


def _line(name: str, s: Samples) -> str:
    def fmt(values: list[float]) -> str:
        if not values:
            return f"{'-':>15}"
        return f"{min(values):6.2f} ({statistics.median(values):5.2f})"

    disk = f"{min(s.written) / (1 << 20):10.1f} MiB" if s.written else f"{'-':>14}"
    return f"   {name:<28} {fmt(s.dumped)} {fmt(s.committed)} {disk}"


def main() -> None:
    load = load_average()
    work = Path(tempfile.mkdtemp(prefix="cs-big-", dir="/tmp"))
    samples = {m: Samples() for m in MODES}
    try:
        exe = crashes.build(DENSE_HEAP, flags=("-g", "-O0"))
        dumps = work / "d"
        conf = write_conf(work / "c", dumps, work / "s", dump__keep="full",
                          dump__minicore_above="0")  # fmt: skip
        with coresnapd(conf), core_pattern_held():
            for _ in range(ROUNDS):
                for mode in MODES:
                    _run(mode, exe, conf, dumps, samples[mode])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _report(samples, load)


def _report(samples: dict[str, Samples], load: str) -> None:
    full, mini, cat = samples["full"], samples["minicore"], samples["cat"]
    size = full.core_size or mini.core_size
    print(f"   core: {size / (1 << 30):.2f} GiB ({MIB} MiB dense heap); {ROUNDS} rounds, the modes "
          f"in turn; best (median) seconds; load average {load} before, {load_average()} after, "
          f"on {os.cpu_count()} CPUs")  # fmt: skip
    print(f"   {'':<28} {'crash->dumped':>15} {'crash->committed':>16} {'disk written':>14}")
    print(_line("cat > /dev/null (the pipe)", cat))
    print(_line("archive, whole core (before)", full))
    print(_line("archive, minicore", mini))
    ratio = min(mini.committed) / min(full.committed)
    disk = 100 * min(mini.written) / size
    print(f"   minicore / whole, crash->committed: {ratio:.2f} (goal <= 0.25); minicore disk "
          f"written {disk:.3f} % of the core (goal <= 1 %); minicore dumped / cat: "
          f"{min(mini.dumped) / min(cat.dumped):.2f}; whole dumped / cat: "
          f"{min(full.dumped) / min(cat.dumped):.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
