"""FreeBSD kernel dump texts → KernelDump → v1 snapshot: frames, panic facts, labels, groups."""

from __future__ import annotations

import calendar
import copy
import gzip
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zstandard

from coresnap.analysis import analyze
from coresnap.errors import KernelDumpError
from coresnap.kernel import crashinfo, ddb, reader, savecore, textdump
from coresnap.kernel.snapshot import build_kernel_snapshot
from coresnap.snapshot.format import dumps as snap_dumps
from coresnap.snapshot.format import loads, validate, write
from tests.kernel.kernel_samples import (
    ASSERT_PANIC,
    VERSION_13,
    VERSION_14,
    Variant,
    tar_bytes,
    textdump_members,
    write_crashinfo,
    write_textdump,
)

OTHER = Variant(pid=4321, tid=100999, when=1764420000, base=0xFFFFFE00D1230000,
                uptime="17h2m1s", host="db2.example.org", shift=0x10)  # fmt: skip


def snapshot_of(crashdir: Path, n: int = 0) -> dict:
    (dump_set,) = [d for d in savecore.find_dumps(crashdir) if d.number == n]
    return build_kernel_snapshot(reader.read_dump(reader.texts_of(dump_set)),
                                 vmcore=str(dump_set.vmcore) if dump_set.vmcore else None)  # fmt: skip


def functions(snapshot: dict) -> list[str | None]:
    return [f["function"] for f in snapshot["threads"][0]["frames"]]


def test_textdump_page_fault(tmp_path: Path) -> None:
    v = Variant()
    write_textdump(tmp_path, 0, v)
    s = snapshot_of(tmp_path)
    validate(s)
    assert loads(snap_dumps(s)) == s  # survives the stored encoding
    assert functions(s)[:8] == ["kdb_enter", "vpanic", "panic", "trap_fatal", "trap_pfault",
                                "calltrap", "mydrv_ioctl", "devfs_ioctl"]  # fmt: skip
    assert functions(s)[-1] == "fast_syscall_common"  # the user part below syscall is not kept
    frame = s["threads"][0]["frames"][6]
    assert frame["function_offset"] == 0x45 and frame["pc"] == 0xFFFFFFFF82A1C0B5  # trap's rip
    assert s["threads"][0]["frames"][0]["pc"] == 0  # ddb printed symbol+offset only
    assert s["signal"] is None and s["crashed_thread"] == v.tid
    assert s["process"]["pid"] == v.pid and s["process"]["name"] == "mydrvctl"
    k = s["kernel"]
    assert k["panic"] == "page fault" and k["version"] == VERSION_13
    assert k["release"] == "13.2-RELEASE" and k["ident"] == "GENERIC"
    assert k["uptime"] == ((3 * 24 + 4) * 60 + 12) * 60 + 33
    assert k["dump_device"] == "/dev/ada0p3" and k["crash_time"] == v.when == s["timestamp"]
    assert k["source"] == "textdump" and k["backtrace_source"] == "ddb bt"
    assert k["trap"]["number"] == 12 and k["trap"]["fault_address"] == 0x18
    assert k["processes"] == 5
    assert s["threads"][0]["registers"] == {"rip": 0xFFFFFFFF82A1C0B5, "rsp": v.base + 0xB10,
                                            "rbp": v.base + 0xB40}  # fmt: skip
    labels = s["classification"]["labels"]
    assert labels[:2] == ["kernel-panic", "page-fault"]
    assert "null-deref" in labels and "memory.read" in labels and "assert" not in labels
    assert s["fingerprint"]["frames"] == ["kernel!mydrv_ioctl", "kernel!devfs_ioctl",
                                          "kernel!vn_ioctl"]  # fmt: skip
    assert s["attributes"]["kernel.version"] == VERSION_13
    assert s["attributes"]["application"] == "kernel"
    assert s["quality"]["score"] < 100 and "no source lines" in s["quality"]["reasons"][0]


def test_textdump_assertion(tmp_path: Path) -> None:
    write_textdump(tmp_path, 0, Variant(), kind="assert")
    s = snapshot_of(tmp_path)
    validate(s)
    assert s["kernel"]["panic"] == ASSERT_PANIC
    labels = s["classification"]["labels"]
    assert labels[0] == "kernel-panic" and "assert" in labels and "page-fault" not in labels
    assert s["kernel"]["trap"] is None and s["threads"][0]["registers"] == {}
    assert s["fingerprint"]["frames"] == ["kernel!vput_final", "kernel!vput",
                                          "kernel!kern_statat"]  # fmt: skip
    assert s["process"]["name"] == "find"


def test_crashinfo_core_txt_with_kgdb_bt(tmp_path: Path) -> None:
    v = Variant(host="myhost.example.org")
    vmcore = write_crashinfo(tmp_path, 1, v)
    s = snapshot_of(tmp_path, 1)
    validate(s)
    frames = s["threads"][0]["frames"]
    assert [f["function"] for f in frames] == [
        "__curthread", "doadump", "kern_reboot", "vpanic", "panic", "trap_fatal", "trap_pfault",
        "tcp_timer_rexmt", "tcp_timer_enter", "softclock_call_cc", "softclock_thread", "fork_exit"]  # fmt: skip
    assert (frames[1]["file"], frames[1]["line"]) == ("/usr/src/sys/kern/kern_shutdown.c", 405)
    assert frames[1]["pc"] == 0 and frames[1]["inline"]  # gdb gave no address
    assert frames[7]["pc"] == 0xFFFFFFFF80D8A2F4 and frames[7]["line"] == 752
    k = s["kernel"]
    assert k["source"] == "crashinfo" and k["backtrace_source"] == "kgdb bt"
    assert k["panic"] == "page fault" and k["version"] == VERSION_14
    assert k["uptime"] == ((3 * 24 + 4) * 60 + 12) * 60 + 33  # Variant().uptime, 3d4h12m33s
    assert k["hostname"] == "myhost.example.org" and k["architecture"] == "amd64"
    assert k["processes"] == 3 and k["cpuid"] == 3
    assert s["analysis"]["core_path"] == str(vmcore) and s["analysis"]["core_size"] == 1 << 20
    assert s["process"]["pid"] == 12 and s["process"]["name"] == "swi4: clock (0)"
    labels = s["classification"]["labels"]
    assert {"kernel-panic", "page-fault", "null-deref", "memory.write"} <= set(labels)
    assert s["fingerprint"]["frames"] == ["kernel!tcp_timer_rexmt", "kernel!tcp_timer_enter",
                                          "kernel!softclock_call_cc"]  # fmt: skip
    assert s["quality"]["score"] == 100


def test_same_panic_same_fingerprint_different_panics_differ(tmp_path: Path) -> None:
    write_textdump(tmp_path / "a", 0, Variant())
    write_textdump(tmp_path / "b", 3, OTHER)
    write_textdump(tmp_path / "c", 0, Variant(), kind="assert")
    write_crashinfo(tmp_path / "d", 1, Variant())
    write_crashinfo(tmp_path / "e", 7, OTHER)
    a, b = snapshot_of(tmp_path / "a"), snapshot_of(tmp_path / "b", 3)
    c, d, e = (
        snapshot_of(tmp_path / "c"),
        snapshot_of(tmp_path / "d", 1),
        snapshot_of(tmp_path / "e", 7),
    )
    assert a["threads"][0]["frames"] != b["threads"][0]["frames"]  # other addresses, same path
    assert a["fingerprint"]["hash"] == b["fingerprint"]["hash"]
    assert d["fingerprint"]["hash"] == e["fingerprint"]["hash"]
    assert len({a["fingerprint"]["hash"], c["fingerprint"]["hash"], d["fingerprint"]["hash"]}) == 3


def test_compressed_textdumps_and_bad_archives(tmp_path: Path) -> None:
    data = tar_bytes(textdump_members(Variant()))
    (tmp_path / "t.gz").write_bytes(gzip.compress(data))
    (tmp_path / "t.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
    for name in ("t.gz", "t.zst"):
        assert textdump.read_textdump(tmp_path / name)["panic.txt"] == "page fault"
    (tmp_path / "bad").write_bytes(b"not a tar" * 100)
    with pytest.raises(KernelDumpError, match="not a textdump archive"):
        textdump.read_textdump(tmp_path / "bad")
    (tmp_path / "empty.tar").write_bytes(tar_bytes({"other.txt": "x"}))
    with pytest.raises(KernelDumpError, match="no textdump member"):
        textdump.read_textdump(tmp_path / "empty.tar")


def test_find_dumps_ignores_links_and_strays(tmp_path: Path) -> None:
    write_textdump(tmp_path, 0, Variant())
    write_crashinfo(tmp_path, 1, Variant())
    (tmp_path / "vmcore.2").write_bytes(b"no info.2: savecore still writing")
    (tmp_path / "vmcore.last").symlink_to("vmcore.1")
    (tmp_path / "minfree").write_text("2048\n")
    found = savecore.find_dumps(tmp_path)
    assert [d.number for d in found] == [0, 1]
    assert found[0].textdump and not found[0].vmcore and found[1].vmcore and found[1].core_txt


def test_info_only_and_garbage() -> None:
    only = reader.read_dump({"info": "Dump header from device: /dev/da0p2\n  Panic String: x\n"})
    s = build_kernel_snapshot(only)
    validate(s)
    assert s["kernel"]["panic"] == "x" and s["threads"][0]["frames"] == []
    assert s["fingerprint"]["frames"][0] == "<no frames>" and s["quality"]["score"] <= 40
    with pytest.raises(KernelDumpError):
        reader.read_dump({})
    noise = ddb.parse_msgbuf("\x00\xff garbage\npanic: \nUptime: nonsense\nFatal trap x\n")
    assert noise.trap is None and noise.uptime is None


def test_parsers_on_edge_lines() -> None:
    bt = ddb.parse_frames(["??() at 0xffffffff80c3b2a5/frame 0xfffffe00c5a2e8d0",
                           "db_trace_self() at db_trace_self", "\t pc = 0xffff000000412ab8  lr = 0x0",
                           "\t sp = 0xffff0000a1b2c3d0  fp = 0xffff0000a1b2c3e0", "not a frame"],
                          "test")  # fmt: skip
    assert [(f.function, f.pc) for f in bt.frames] == [
        (None, 0xFFFFFFFF80C3B2A5), ("db_trace_self", 0xFFFF000000412AB8)]  # fmt: skip
    kg = crashinfo.kgdb_backtrace("#0  0xffffffff81234567 in ?? ()\n"
                                  "#1  0xffffffff82345678 in zfs_foo (a=0x1) from /boot/kernel/zfs.ko\n"
                                  "#2  0xffffffff80b4a2d2 in fork_exit (callout=0xffffffff80bac760 <f>,\n"
                                  "    arg=0x0) at /usr/src/sys/kern/kern_fork.c:1160\n")  # fmt: skip
    assert [(f.function, f.module, f.line) for f in kg.frames] == [
        (None, None, None), ("zfs_foo", "/boot/kernel/zfs.ko", None), ("fork_exit", None, 1160)]  # fmt: skip
    epoch = calendar.timegm((2026, 11, 29, 10, 14, 50))
    assert savecore.parse_dumptime("2026-11-29 10:14:50 +0000") == epoch
    assert savecore.parse_dumptime("2026-11-29 10:14:50 UTC") == epoch
    assert savecore.parse_dumptime("not a time") is None


def test_reanalysis_of_stored_kernel_snapshots_keeps_their_labels(tmp_path: Path) -> None:
    """``coresnap reclassify`` and ``analyze`` on a stored kernel snapshot (no core, no signal)
    give back the builder's labels and fingerprint, not the userland rules' ``unknown``."""
    write_textdump(tmp_path / "a", 0, Variant())
    write_crashinfo(tmp_path / "b", 1, Variant())
    write_textdump(tmp_path / "c", 0, Variant(), kind="assert")
    stored = tmp_path / "stored"
    stored.mkdir()
    for name, n in (("a", 0), ("b", 1), ("c", 0)):
        s = snapshot_of(tmp_path / name, n)
        again = analyze(copy.deepcopy(s))
        assert again["classification"] == s["classification"]
        assert again["fingerprint"] == s["fingerprint"] and again["quality"] == s["quality"]
        write(s, stored / f"{name}.snap")
    out = subprocess.run([str(Path(sys.executable).parent / "coresnap"), "reclassify",
                          str(stored), "--diff"], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0 and "3 snapshots, 0 changed" in out.stdout + out.stderr


def test_older_kgdb_and_savecore_output() -> None:
    """FreeBSD 12's kgdb starts at ``#0  doadump``; older savecore prints Dumptime with ctime."""
    bt = crashinfo.kgdb_backtrace(
        "(kgdb) #0  doadump (textdump=<optimized out>) at /usr/src/sys/kern/kern_shutdown.c:405\n"
        "#1  0xffffffff80bd5aea in kern_reboot (howto=260) at /usr/src/sys/kern/kern_shutdown.c:482\n"
        "#2  0xffffffff80bd5f46 in vpanic (fmt=<optimized out>, ap=<optimized out>)\n"
        "    at /usr/src/sys/kern/kern_shutdown.c:908\n"
        "#3  0xffffffff80bd5c73 in panic (fmt=<unavailable>) at /usr/src/sys/kern/kern_shutdown.c:835\n"
        "#4  0xffffffff8107b27c in trap_fatal (frame=0xfffffe0000439480, eva=0)\n"
        "    at /usr/src/sys/amd64/amd64/trap.c:915\n"
        "(kgdb) quit\n"
    )  # fmt: skip
    assert [(f.function, f.line) for f in bt.frames] == [
        ("doadump", 405), ("kern_reboot", 482), ("vpanic", 908), ("panic", 835),
        ("trap_fatal", 915)]  # fmt: skip
    assert bt.frames[0].pc is None and not bt.frames[0].inline  # frame 0: no address, not inline
    when = time.mktime(time.strptime("Wed May 10 14:02:33 2023", "%a %b %d %H:%M:%S %Y"))
    h = savecore.parse_info("Dump header from device: /dev/ada0p2\n"
                            "  Dumptime: Wed May 10 14:02:33 2023\n  Hostname: old.example\n")  # fmt: skip
    assert h.dumptime == when and h.device == "/dev/ada0p2" and h.hostname == "old.example"


def test_view_leads_with_the_panic_and_the_first_useful_frame(tmp_path: Path) -> None:
    """`coresnap view` of a kernel snapshot: the panic message first, then the first frame
    past the panic/trap machinery (not kdb_enter or __curthread)."""
    v = Variant()
    write_textdump(tmp_path, 0, v)
    snap = tmp_path / "k.snap"
    write(snapshot_of(tmp_path), snap)
    done = subprocess.run(
        [sys.executable, "-m", "coresnap.cli.coresnap", "view", "--width", "200", str(snap)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    panic = next(i for i, line in enumerate(lines) if "kernel panic: " in line)
    crashing = next(i for i, line in enumerate(lines) if "crashing frame" in line)
    assert panic < crashing
    assert "mydrv_ioctl" in lines[crashing + 1], lines[crashing : crashing + 3]
