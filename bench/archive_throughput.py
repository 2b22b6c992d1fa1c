"""The capture pipeline, measured: coresnap-archive and coresnapd's coredump socket against
``cat > file`` on the same kernel pipe (how long the crashed process is held), the archive from
a file (start to durable exit), disk blocks of a sparse core, crash-to-committed latency, and
coresnapd's CPU while idle."""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench._capture import (
    DENSE_HEAP,
    archive_pattern,
    core_pattern_held,
    coresnapd,
    crash_when_ready,
    new_name,
    set_pattern,
    write_conf,
)
from coresnap.capture import coredump_socket, fields
from tests import crashes
from tests.capture.hook import ARCHIVE, archive_hook, crash_piped, wait_for_handler
from tests.daemon.daemon_helpers import CORESNAPD, conf, cpu_ticks, names, wait_for

BIG_MIB = 256
PIPE_MIB = int(os.environ.get("CORESNAP_BENCH_PIPE_MIB", "1024"))
RUNS = 3
PIPE_RUNS = 7
LATENCY_CRASHES = 12


def _timed(shell: str) -> float:
    start = time.perf_counter()
    subprocess.run(["sh", "-c", shell], check=True, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _archive_argv(root: Path, pid: int) -> str:
    """The archive tool on a conf keeping whole cores (dump.keep = full): this measures writing
    a core as fast as the pipe gives it (bench.capture_big measures the minicore)."""
    conf = _full_conf(root)
    values = {"pid": pid, "ns_pid": pid, "tid": pid, "ns_tid": pid, "signal": 11,
              "time": int(time.time()), "core_limit": fields.RLIM_INFINITY, "hostname": "bench",
              "uid": 0, "gid": 0, "dumpable": 1, "comm": "capture_crash",
              "exe_path": "!bench!capture_crash"}  # fmt: skip
    return " ".join([str(ARCHIVE), "-c", str(conf), *(str(values[f.name]) for f in fields.FIELDS)])


def _full_conf(root: Path) -> Path:
    conf = root.with_name(root.name + ".conf")
    conf.write_text(f"dump.root = {root}\ndump.keep = full\ndump.quota = 1\ndump.max_size = 8G\n"
                    f"log.file = {root.with_name(root.name + '.log')}\n")  # fmt: skip
    return conf


def kernel_pipe(work: Path) -> None:
    """The goal's terms: a real crash, the kernel writing its core into the pipe of the
    handler, ``kernel.core_pipe_limit`` = 64 as installed (the kernel reaps the process when the
    handler lets the pipe go). The process is held while its core is written: ``cat > file``
    against coresnap-archive (whole core, sparse, read-ahead, assets) and against coresnapd on
    the kernel's coredump socket (no process started per crash), in turn."""
    work.mkdir(parents=True)
    exe = crashes.build(DENSE_HEAP, flags=("-g", "-O0"))
    plain, root, sock = work / "plain", work / "root", work / "core.sock"
    patterns = {"cat": f"|/bin/sh -c cat>{plain}", "archive": archive_pattern(_full_conf(root))}
    daemon_conf = None
    if coredump_socket.supported():
        patterns["socket"] = f"@@{sock}"
        daemon_conf = write_conf(work / "c", work / "d", work / "s", capture__socket=str(sock),
                                 dump__keep="full")  # fmt: skip
    held: dict[str, list[float]] = {mode: [] for mode in patterns}
    pending: list[float] = []
    with contextlib.ExitStack() as stack:
        if daemon_conf is not None:
            stack.enter_context(coresnapd(daemon_conf))
        stack.enter_context(core_pattern_held())
        for _ in range(PIPE_RUNS):
            for mode, pattern in patterns.items():
                os.sync()  # each crash starts with no dirty pages of the last one to write back
                set_pattern(pattern)
                before = names(work / "d" / "committed")
                started, dumped = crash_when_ready(exe, [str(PIPE_MIB)])
                held[mode].append(dumped)
                if mode == "cat":
                    wait_for(lambda: plain.exists(), what="the cat core")
                    size = plain.stat().st_size
                    plain.unlink()
                elif mode == "archive":
                    wait_for_handler(None)
                    pending.append(time.monotonic() - started)
                    for stage in ("pending", "assets"):
                        shutil.rmtree(root / stage)
                else:  # the snapshot is made before the next crash is timed
                    new_name(work / "d" / "committed", before)
    mib = size / (1 << 20)
    print(f"   kernel pipe, crash of a {PIPE_MIB} MiB dense heap ({mib:.0f} MiB core), "
          f"core_pipe_limit 64, {PIPE_RUNS} rounds, the modes in turn; the process is held "
          f"while: best (median) s; throughput vs cat > file: median of the rounds' ratios "
          f"(each round's cat against the same round's crash: the VM's drift cancels), and "
          f"best against best")  # fmt: skip
    names_ = {"cat": "cat > file", "archive": "coresnap-archive", "socket": "coresnapd, socket"}
    for mode, times in held.items():
        paired = statistics.median(c / t for c, t in zip(held["cat"], times, strict=True))
        extra = ""
        if mode == "archive":
            extra = f"   (in pending/, fsynced: {statistics.median(pending):.2f} s after the crash)"
        print(f"   {names_[mode]:<18} {min(times):6.3f} ({statistics.median(times):5.3f})  "
              f"{paired:5.2f}  {min(held['cat']) / min(times):5.2f}{extra}")  # fmt: skip
    if "socket" not in held:
        print("   coresnapd, socket: skipped (no coredump socket on this kernel: Linux 6.16+)")
    print("   goal: throughput vs cat > file on the same pipe >= 0.95")


def throughput(work: Path) -> None:
    exe = crashes.build("capture_crash.c")
    crash = crashes.crash(exe, ["big", str(BIG_MIB)], cwd=work / "crash")
    size = crash.core.stat().st_size
    subprocess.run(["cat", str(crash.core)], stdout=subprocess.DEVNULL, check=True)  # warm cache
    cat_times, sync_times, archive_times = [], [], []
    for i in range(RUNS):
        plain = work / f"plain{i}"
        cat_times.append(_timed(f"cat {crash.core} | cat > {plain}"))
        plain.unlink()
        # The archive fsyncs before publishing: the fair baseline fsyncs too (coreutils sync FILE).
        sync_times.append(_timed(f"cat {crash.core} | cat > {plain}; sync {plain}"))
        root = work / f"root{i}"
        archive_times.append(_timed(f"cat {crash.core} | {_archive_argv(root, crash.pid)}"))
        [core] = (root / "pending").iterdir()
        sparse_blocks, plain_blocks = core.stat().st_blocks * 512, plain.stat().st_blocks * 512
        plain.unlink()
    empty = statistics.median(
        _timed(f"{_archive_argv(work / 'empty', 1)} < /dev/null || true") for _ in range(5)
    )
    cat_s, arch_s = statistics.median(cat_times), statistics.median(archive_times)
    sync_s = statistics.median(sync_times)
    mib = size / (1 << 20)
    print(f"   from a file, start to exit (durable): core {mib:.0f} MiB ({BIG_MIB} MiB heap, half "
          f"of it zero pages), median of {RUNS}")  # fmt: skip
    print(f"   cat > file:        {cat_s:6.3f} s  {mib / cat_s:7.0f} MiB/s")
    print(f"   cat > file; sync:  {sync_s:6.3f} s  {mib / sync_s:7.0f} MiB/s")
    print(
        f"   coresnap-archive:  {arch_s:6.3f} s  {mib / arch_s:7.0f} MiB/s   (assets, checks, fsync)"
    )
    print(f"   throughput archive / (cat > file): {cat_s / arch_s:.2f}; "
          f"archive / (cat > file; sync): {sync_s / arch_s:.2f}")  # fmt: skip
    print(f"   archive start-up + refusal of an empty core: {empty * 1000:.0f} ms")
    print(f"   disk: sparse core {sparse_blocks / (1 << 20):.1f} MiB of {mib:.1f} MiB "
          f"({100 * sparse_blocks / size:.0f}%); cat > file {plain_blocks / (1 << 20):.1f} MiB")  # fmt: skip


def latency(work: Path) -> None:
    exe = crashes.build("capture_crash.c")
    dumps, store = work / "d", work / "s"
    cfg = conf(work / "c", dumps, store, snapshot__command=(
        "coresnap snapshot %c -o %S --resource %a --kv coresnap.object:%B --isolate"))  # fmt: skip
    daemon = subprocess.Popen([str(CORESNAPD), "-c", str(cfg)], stderr=subprocess.DEVNULL)
    samples = []
    try:
        wait_for(lambda: (dumps / "coresnapd.lock").exists(), what="coresnapd")
        time.sleep(1)
        before, t0 = cpu_ticks(daemon.pid), time.monotonic()
        time.sleep(5)
        idle = (cpu_ticks(daemon.pid) - before) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - t0)
        with archive_hook(None, cfg):
            for n in range(LATENCY_CRASHES):
                start = time.monotonic()
                crash_piped(exe, ["segv"])
                wait_for(lambda n=n: len(names(dumps / "committed")) == n + 1, timeout=60)
                samples.append(time.monotonic() - start)
    finally:
        daemon.terminate()
        daemon.wait()
    q = statistics.quantiles(samples, n=20)
    print(f"   coresnapd idle CPU over 5 s: {100 * idle:.2f}%")
    print(f"   crash -> committed (real `coresnap snapshot --isolate`, put = copy), "
          f"{LATENCY_CRASHES} crashes: p50 {statistics.median(samples):.2f} s, p95 {q[18]:.2f} s")  # fmt: skip


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="cs-b-", dir="/tmp"))
    try:
        kernel_pipe(work / "k")
        throughput(work / "t")
        latency(work / "l")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
