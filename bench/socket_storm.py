"""A crash storm, 300 crashes a minute of one executable, into coresnapd with the default
storm limits: through the pipe (coresnap-archive writes every core, coresnapd drops those over
``ratelimit.exe``) and through the kernel's coredump socket in request mode (coresnapd answers
"reject" before the kernel writes anything). For each: crashes counted (none may be lost from
the counts) and the bytes written to the dump root's disk (an ext4 file system on a loop
device of its own: the block device's sectors-written counter)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench._capture import (
    archive_pattern,
    core_pattern_held,
    coresnapd,
    crashes,
    load_average,
    names,
    set_pattern,
    wait_for,
    write_conf,
)
from coresnap.capture import coredump_socket
from coresnap.spool import counters
from tests.capture.hook import wait_for_handler

RATE = 300  # crashes a minute
SECONDS = int(os.environ.get("CORESNAP_BENCH_STORM_SECONDS", "60"))
CORE_MIB = 16  # memory each crashing process touches (half of it zero)
DAEMON_REASONS = ("ratelimit.exe", "ratelimit.fingerprint")


@contextmanager
def loop_fs(work: Path, size: str = "6G") -> Iterator[tuple[Path, str]]:
    """An ext4 file system on a loop device, mounted at ``work/mnt``: (mount point, device)."""
    work.mkdir(parents=True, exist_ok=True)
    image, mnt = work / "fs.img", work / "mnt"
    subprocess.run(["truncate", "-s", size, str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    device = subprocess.run(["losetup", "--find", "--show", str(image)], check=True,
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    mnt.mkdir()
    try:
        subprocess.run(["mount", device, str(mnt)], check=True)
        try:
            yield mnt, device
        finally:
            subprocess.run(["umount", str(mnt)], check=False)
    finally:
        subprocess.run(["losetup", "-d", device], check=False)


def sectors_written(device: str) -> int:
    """Bytes written to ``device`` since boot (/sys/block/<dev>/stat: sectors of 512 bytes)."""
    fields = Path(f"/sys/block/{Path(device).name}/stat").read_text().split()
    return int(fields[6]) * 512


def storm(exe: Path, dumps: Path, device: str) -> dict[str, int]:
    """RATE crashes a minute for SECONDS; the counters once coresnapd is done with them."""
    os.sync()
    before = sectors_written(device)
    procs, started = [], time.monotonic()
    for n in range(RATE * SECONDS // 60):
        delay = started + n * 60 / RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        procs.append(subprocess.Popen([str(exe), "big", str(CORE_MIB)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      preexec_fn=_unlimited))  # fmt: skip
    for p in procs:
        p.wait(timeout=600)
    wait_for_handler(None)  # a handler lets the pipe go before its core is in pending/
    wait_for(lambda: not names(dumps / "pending") and not names(dumps / "sending"), timeout=900,
             what="the storm processed")  # fmt: skip
    os.sync()
    values = counters.read(dumps)
    values["crashes"] = len(procs)
    values["written"] = sectors_written(device) - before
    return values


def _unlimited() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def run(mode: str, exe: Path, work: Path) -> dict[str, int]:
    with loop_fs(work / mode) as (mnt, device):
        dumps, sock = mnt / "d", work / mode / "core.sock"
        conf = write_conf(work / mode / "c", dumps, work / mode / "s",
                          ratelimit__exe="30/1m", ratelimit__fingerprint="10/1m",
                          capture__socket=str(sock), dump__keep="full")  # fmt: skip
        with coresnapd(conf), core_pattern_held():
            set_pattern("@@" + str(sock) if mode == "socket" else archive_pattern(conf))
            return storm(exe, dumps, device)


def main() -> None:
    if not coredump_socket.supported():
        print("   skipped: this kernel has no coredump socket (Linux 6.16+)")
        return
    load = load_average()
    work = Path(tempfile.mkdtemp(prefix="cs-storm-", dir="/tmp"))
    try:
        exe = crashes.build("capture_crash.c")
        results = {mode: run(mode, exe, work) for mode in ("pipe", "socket")}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"   {RATE} crashes/min of one executable for {SECONDS} s, {CORE_MIB} MiB touched "
          f"each, ratelimit.exe 30/1m; load average {load} before, {load_average()} after")  # fmt: skip
    for mode, v in results.items():
        dropped = counters.dropped(v)
        # coresnapd's own limits drop dumps already archived; every other reason is a crash
        # that was never archived (rejected on the socket, or refused by the archive tool).
        unarchived = dropped - sum(v.get(f"dropped.{r}", 0) for r in DAEMON_REASONS)
        lost = v["crashes"] - v.get("archived", 0) - unarchived
        print(f"   {mode:<7} crashes {v['crashes']:4d}  archived {v.get('archived', 0):4d}  "
              f"committed {v.get('committed', 0):4d}  dropped {dropped:4d} "
              f"({', '.join(f'{k[8:]} {n}' for k, n in sorted(v.items()) if k.startswith('dropped.'))})"
              f"  lost {lost}  disk written {v['written'] / (1 << 20):8.1f} MiB")  # fmt: skip
    pipe, sock = results["pipe"]["written"], results["socket"]["written"]
    print(f"   disk written, socket / pipe: {sock / pipe:.3f}")


if __name__ == "__main__":
    main()
