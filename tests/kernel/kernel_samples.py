"""FreeBSD kernel dump texts for tests, written from the documented formats (no FreeBSD here).

Each sample is what savecore(8), textdump(4)/ddb(4) and crashinfo(8) write, laid out as their
sources print it: ``info.N`` from ``printheader()`` (sbin/savecore/savecore.c), ddb's ``bt``
lines from ``db_print_stack_entry`` (sys/amd64/amd64/db_trace.c), the fatal trap block from
``trap_fatal()`` (sys/amd64/amd64/trap.c), ``panic:``/``cpuid =``/``time =`` from ``vpanic()``
and ``Uptime:`` from ``kern_reboot()`` (sys/kern/kern_shutdown.c), ``core.txt.N`` from
usr.sbin/crashinfo/crashinfo.sh with kgdb's ``bt``. Addresses, pids and times are parameters so
two dumps of the same bug differ in everything but the code path.
"""

from __future__ import annotations

import io
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

RULE = "-" * 72
VERSION_13 = "FreeBSD 13.2-RELEASE releng/13.2-n254617-525ecfdad597 GENERIC"
VERSION_14 = "FreeBSD 14.1-RELEASE releng/14.1-n267679-10e31f0946d8 GENERIC"


@dataclass
class Variant:
    """What changes between two dumps of one bug."""

    pid: int = 1234
    tid: int = 100123
    when: int = 1764410000
    base: int = 0xFFFFFE00C5A2E000  # kernel stack of the thread: every /frame address moves
    uptime: str = "3d4h12m33s"
    host: str = "db1.example.org"
    shift: int = 0  # another build of the same kernel source: every function offset moves


def info(v: Variant, panic: str, version: str, magic: str, bounds: int, length: int) -> str:
    dumptime = time.strftime("%Y-%m-%d %H:%M:%S +0000", time.gmtime(v.when))
    return (
        "Dump header from device: /dev/ada0p3\n"
        "  Architecture: amd64\n"
        "  Architecture Version: 2\n"
        f"  Dump Length: {length}\n"
        "  Blocksize: 512\n"
        "  Compression: none\n"
        f"  Dumptime: {dumptime}\n"
        f"  Hostname: {v.host}\n"
        f"  Magic: {magic}\n"
        f"  Version String: {version}\n"
        f"  Panic String: {panic}\n"
        "  Dump Parity: 3212876334\n"
        f"  Bounds: {bounds}\n"
        "  Dump Status: good\n"
    )


def _bt(v: Variant, entries: list[tuple[str, int] | str]) -> str:
    """ddb frame lines: (function, offset) pairs, or a ``--- trap ... ---`` line as is."""
    lines, frame = [], v.base + 0x870
    for e in entries:
        if isinstance(e, str):
            lines.append(e.format(base=v.base))
            continue
        name, offset = e
        lines.append(f"{name}() at {name}+{offset + v.shift:#x}/frame {frame:#x}")
        frame += 0x50
    return "\n".join(lines) + "\n"


PAGE_FAULT_FRAMES: list[tuple[str, int] | str] = [
    ("kdb_enter", 0x37), ("vpanic", 0x182), ("panic", 0x43), ("trap_fatal", 0x385),
    ("trap_pfault", 0x4F), ("calltrap", 0x8),
    "--- trap 0xc, rip = 0xffffffff82a1c0b5, rsp = {base:#x}, rbp = {base:#x} ---",
    ("mydrv_ioctl", 0x45), ("devfs_ioctl", 0xCD), ("vn_ioctl", 0x131), ("devfs_ioctl_f", 0x1E),
    ("kern_ioctl", 0x289), ("sys_ioctl", 0x12A), ("amd64_syscall", 0x10C),
    ("fast_syscall_common", 0x101),
    "--- syscall (54, FreeBSD ELF64, ioctl), rip = 0x8011a5c4a, rsp = 0x7fffffffe5d8, "
    "rbp = 0x7fffffffe650 ---",
]  # fmt: skip

ASSERT_PANIC = "Assertion vp->v_holdcnt > 0 failed at /usr/src/sys/kern/vfs_subr.c:3321"
ASSERT_FRAMES: list[tuple[str, int] | str] = [
    ("kdb_enter", 0x37), ("vpanic", 0x182), ("panic", 0x43), ("kassert_panic", 0x16F),
    ("vput_final", 0x2A3), ("vput", 0x2F), ("kern_statat", 0x1B6), ("sys_fstatat", 0x2F),
    ("amd64_syscall", 0x10C), ("fast_syscall_common", 0x101),
    "--- syscall (552, FreeBSD ELF64, fstatat), rip = 0x8004c2a1a, rsp = 0x7fffffffdc28, "
    "rbp = 0x7fffffffdca0 ---",
]  # fmt: skip


def page_fault_msgbuf(v: Variant, fault_address: int = 0x18) -> str:
    return (
        "mydrv0: <My Test Device> on pci0\n"
        "\n\nFatal trap 12: page fault while in kernel mode\n"
        "cpuid = 1; apic id = 01\n"
        f"fault virtual address\t= {fault_address:#x}\n"
        "fault code\t\t= supervisor read data, page not present\n"
        "instruction pointer\t= 0x20:0xffffffff82a1c0b5\n"
        f"stack pointer\t        = 0x28:{v.base + 0xB10:#x}\n"
        f"frame pointer\t        = 0x28:{v.base + 0xB40:#x}\n"
        "code segment\t\t= base 0x0, limit 0xfffff, type 0x1b\n"
        "\t\t\t= DPL 0, pres 1, long 1, def32 0, gran 1\n"
        "processor eflags\t= interrupt enabled, resume, IOPL = 0\n"
        f"current process\t\t= {v.pid} (mydrvctl)\n"
        "trap number\t\t= 12\n"
        "panic: page fault\n"
        "cpuid = 1\n"
        f"time = {v.when}\n"
        "KDB: enter: panic\n"
    )


def ddb_capture(v: Variant, frames: list[tuple[str, int] | str], comm: str) -> str:
    """What the default ``kdb.enter.panic`` ddb script captures (``/etc/ddb.conf``:
    ``textdump set; capture on; run lockinfo; show pcpu; bt; ps; alltrace; capture off``)."""
    return (
        "db:0:kdb.enter.panic> run lockinfo\n"
        "db:1:lockinfo> show locks\n"
        'No such command; use "help" to list available commands\n'
        "db:1:lockinfo>  show alllocks\n"
        'No such command; use "help" to list available commands\n'
        "db:1:lockinfo>  show lockedvnods\n"
        "Locked vnodes\n"
        "db:0:kdb.enter.panic>  show pcpu\n"
        "cpuid        = 1\n"
        "dynamic pcpu = 0xfffffe008f0b5600\n"
        f'curthread    = 0xfffff80003b2e740: pid {v.pid} tid {v.tid} critnest 1 "{comm}"\n'
        "curpcb       = 0xfffffe00c5a2ecc0\n"
        "fpcurthread  = none\n"
        'idlethread   = 0xfffff800032f3740: tid 100004 "idle: cpu1"\n'
        "db:0:kdb.enter.panic>  bt\n"
        f"Tracing pid {v.pid} tid {v.tid} td 0xfffff80003b2e740\n"
        + _bt(v, frames)
        + "db:0:kdb.enter.panic>  ps\n"
        "  pid  ppid  pgrp   uid  state   wmesg   wchan               cmd\n"
        f" {v.pid}   987  {v.pid}     0  R+      CPU 1                       {comm}\n"
        "  987     1   987     0  Ss+     pause   0xfffff80003a5c0a8  sh\n"
        "    1     0     1     0  SLs     wait    0xfffff800034c9538  init\n"
        "    0     0     0     0  RLs     (threaded)                  [kernel]\n"
        "100000                   D       swapin  0xffffffff81d4a1e0  [swapper]\n"
        "db:0:kdb.enter.panic>  alltrace\n"
        "\nTracing command mydrvctl pid 1234 tid 100123 td 0xfffff80003b2e740\n"
        "kdb_enter() at kdb_enter+0x37/frame 0xfffffe00c5a2e870\n"
        "db:0:kdb.enter.panic>  capture off\n"
    )


def tar_bytes(members: dict[str, str]) -> bytes:
    """A ustar archive as textdump(4) writes it (``textdump_mkustar``)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, text in members.items():
            data = text.encode()
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o600, 1764410000
            tar.addfile(ti, io.BytesIO(data))
    return out.getvalue()


def textdump_members(v: Variant, kind: str = "page-fault") -> dict[str, str]:
    if kind == "page-fault":
        panic, frames, comm = "page fault", PAGE_FAULT_FRAMES, "mydrvctl"
        msgbuf = page_fault_msgbuf(v)
    else:
        panic, frames, comm = ASSERT_PANIC, ASSERT_FRAMES, "find"
        msgbuf = f"panic: {panic}\ncpuid = 0\ntime = {v.when}\nKDB: enter: panic\n"
    return {
        "ddb.txt": ddb_capture(v, frames, comm),
        "config.txt": "options \tCONFIG_AUTOGENERATED\nident\tGENERIC\nmachine\tamd64\n"
                      "options \tINCLUDE_CONFIG_FILE\noptions \tDDB\noptions \tKDB\n",
        "msgbuf.txt": msgbuf + f"Uptime: {v.uptime}\n",
        "panic.txt": panic,
        "version.txt": VERSION_13 + "\n",
    }  # fmt: skip


def write_textdump(crashdir: Path, n: int, v: Variant, kind: str = "page-fault") -> Path:
    """``info.N`` + ``textdump.tar.N`` in ``crashdir``, as savecore leaves a textdump."""
    crashdir.mkdir(parents=True, exist_ok=True)
    members = textdump_members(v, kind)
    data = tar_bytes(members)
    (crashdir / f"textdump.tar.{n}").write_bytes(data)
    (crashdir / f"info.{n}").write_text(
        info(v, members["panic.txt"], VERSION_13, "FreeBSD Text Dump", n + 1, len(data))
    )
    (crashdir / "bounds").write_text(f"{n + 1}\n")
    return crashdir / f"textdump.tar.{n}"


def core_txt(v: Variant, n: int = 1, fault_address: int = 0x28) -> str:
    """crashinfo's report of a page fault in a callout (a minidump with kernel debug symbols)."""
    kgdb = (
        "GNU gdb (GDB) 14.1 [GDB v14.1 for FreeBSD]\n"
        "Copyright (C) 2023 Free Software Foundation, Inc.\n"
        "License GPLv3+: GNU GPL version 3 or later <http://gnu.org/licenses/gpl.html>\n"
        'Type "apropos word" to search for commands related to "word"...\n'
        "Reading symbols from /boot/kernel/kernel...\n"
        "Reading symbols from /usr/lib/debug//boot/kernel/kernel.debug...\n"
        "\nUnread portion of the kernel message buffer:\n\n\n"
        "Fatal trap 12: page fault while in kernel mode\n"
        "cpuid = 3; apic id = 06\n"
        f"fault virtual address\t= {fault_address:#x}\n"
        "fault code\t\t= supervisor write data, page not present\n"
        "instruction pointer\t= 0x20:0xffffffff80d8a2f4\n"
        f"stack pointer\t        = 0x28:{v.base + 0x9C0:#x}\n"
        f"frame pointer\t        = 0x28:{v.base + 0xA10:#x}\n"
        "code segment\t\t= base 0x0, limit 0xfffff, type 0x1b\n"
        "\t\t\t= DPL 0, pres 1, long 1, def32 0, gran 1\n"
        "processor eflags\t= interrupt enabled, resume, IOPL = 0\n"
        "current process\t\t= 12 (swi4: clock (0))\n"
        "rdi: fffff80012a4c000 rsi: 0000000000000000 rdx: 0000000000000001\n"
        "trap number\t\t= 12\n"
        "panic: page fault\n"
        "cpuid = 3\n"
        f"time = {v.when}\n"
        "KDB: stack backtrace:\n"
        f"db_trace_self_wrapper() at db_trace_self_wrapper+0x2b/frame {v.base + 0x780:#x}\n"
        f"vpanic() at vpanic+0x136/frame {v.base + 0x8B0:#x}\n"
        f"panic() at panic+0x43/frame {v.base + 0x910:#x}\n"
        f"trap_fatal() at trap_fatal+0x40b/frame {v.base + 0x970:#x}\n"
        f"trap_pfault() at trap_pfault+0x46/frame {v.base + 0x9C0:#x}\n"
        f"calltrap() at calltrap+0x8/frame {v.base + 0x9C0:#x}\n"
        f"--- trap 0xc, rip = 0xffffffff80d8a2f4, rsp = {v.base + 0xA90:#x}, "
        f"rbp = {v.base + 0xAC0:#x} ---\n"
        f"tcp_timer_rexmt() at tcp_timer_rexmt+0x1a4/frame {v.base + 0xAC0:#x}\n"
        f"tcp_timer_enter() at tcp_timer_enter+0x8c/frame {v.base + 0xB00:#x}\n"
        f"softclock_call_cc() at softclock_call_cc+0x12e/frame {v.base + 0xBB0:#x}\n"
        f"softclock_thread() at softclock_thread+0xbc/frame {v.base + 0xBF0:#x}\n"
        f"fork_exit() at fork_exit+0x82/frame {v.base + 0xC30:#x}\n"
        f"fork_trampoline() at fork_trampoline+0xe/frame {v.base + 0xC30:#x}\n"
        "--- trap 0, rip = 0, rsp = 0, rbp = 0 ---\n"
        "KDB: enter: panic\n"
        f"Uptime: {v.uptime}\n"
        "Dumping 2123 out of 32621 MB:..1%..11%..21%..31%..41%..51%..61%..71%..81%..91%\n\n"
        "__curthread () at /usr/src/sys/amd64/include/pcpu_aux.h:57\n"
        '57\t\t__asm("movq %%gs:%P1,%0" : "=r" (td) : "n" (offsetof(struct pcpu,\n'
        "(kgdb) #0  __curthread () at /usr/src/sys/amd64/include/pcpu_aux.h:57\n"
        "#1  doadump (textdump=textdump@entry=1) at /usr/src/sys/kern/kern_shutdown.c:405\n"
        "#2  0xffffffff80b8d0a9 in kern_reboot (howto=260) at /usr/src/sys/kern/kern_shutdown.c:523\n"
        '#3  0xffffffff80b8d5ae in vpanic (fmt=0xffffffff81202d9b "%s", '
        f"ap=ap@entry={v.base + 0x8F0:#x}) at /usr/src/sys/kern/kern_shutdown.c:967\n"
        "#4  0xffffffff80b8d403 in panic (fmt=<unavailable>) at /usr/src/sys/kern/kern_shutdown.c:891\n"
        f"#5  0xffffffff810518bb in trap_fatal (frame={v.base + 0x9D0:#x}, eva={fault_address}) "
        "at /usr/src/sys/amd64/amd64/trap.c:952\n"
        "#6  0xffffffff81051906 in trap_pfault (frame=<optimized out>, usermode=false, "
        "signo=<optimized out>, ucode=<optimized out>) at /usr/src/sys/amd64/amd64/trap.c:760\n"
        "#7  <signal handler called>\n"
        "#8  0xffffffff80d8a2f4 in tcp_timer_rexmt (tp=0xfffff80012a4c000) "
        "at /usr/src/sys/netinet/tcp_timer.c:752\n"
        "#9  0xffffffff80d8b32c in tcp_timer_enter (xtp=0xfffff80012a4c000) "
        "at /usr/src/sys/netinet/tcp_timer.c:919\n"
        "#10 0xffffffff80bab1be in softclock_call_cc (c=0xfffff80012a4c3b8, "
        "cc=cc@entry=0xffffffff81d4c900, direct=direct@entry=0) at /usr/src/sys/kern/kern_timeout.c:903\n"
        "#11 0xffffffff80bac81c in softclock_thread (arg=arg@entry=0xffffffff81d4c900) "
        "at /usr/src/sys/kern/kern_timeout.c:1040\n"
        "#12 0xffffffff80b4a2d2 in fork_exit (callout=0xffffffff80bac760 <softclock_thread>, "
        f"arg=0xffffffff81d4c900, frame={v.base + 0xC40:#x}) at /usr/src/sys/kern/kern_fork.c:1160\n"
        "#13 <signal handler called>\n"
        "(kgdb) \n"
    )
    return (
        f"{v.host} dumped core - see /var/crash/vmcore.{n}\n\n"
        f"{time.strftime('%a %b %d %H:%M:%S UTC %Y', time.gmtime(v.when + 120))}\n\n"
        f"FreeBSD {v.host} 14.1-RELEASE {VERSION_14} amd64\n\n"
        "panic: page fault\n\n" + kgdb + f"\n\n{RULE}\nps -axlww\n\n"
        "UID   PID  PPID  C PRI NI   VSZ   RSS MWCHAN   STAT TT     TIME COMMAND\n"
        "  0     0     0  0 -16  0     0  3728 swapin   DLs   -  0:21.40 [kernel]\n"
        "  0     1     0  0  20  0 11856  1012 wait     ILs   -  0:00.02 /sbin/init\n"
        "  0    12     0  0 -60  0     0   336 -        WL    -  1:02.11 [intr]\n"
        f"\n{RULE}\nvmstat -s\n\n"
        " 10374827 cpu context switches\n  4153282 device interrupts\n"
        f"\n{RULE}\ndmesg\n\n"
        "---<<BOOT>>---\nCopyright (c) 1992-2024 The FreeBSD Project.\n"
        f"\n{RULE}\nkernel config\n\n"
        "options\tCONFIG_AUTOGENERATED\nident\tGENERIC\nmachine\tamd64\n"
    )


def write_crashinfo(crashdir: Path, n: int, v: Variant, vmcore_size: int = 1 << 20) -> Path:
    """``info.N`` + ``vmcore.N`` (sparse, its content is not read) + crashinfo's ``core.txt.N``."""
    crashdir.mkdir(parents=True, exist_ok=True)
    vmcore = crashdir / f"vmcore.{n}"
    with open(vmcore, "wb") as f:
        f.write(b"\x7fELF")  # a full dump is ELF; amd64 minidumps start "minidump FreeBSD/amd64"
        f.truncate(vmcore_size)
    (crashdir / f"info.{n}").write_text(
        info(v, "page fault", VERSION_14, "FreeBSD Kernel Dump", n + 1, vmcore_size)
    )
    (crashdir / f"core.txt.{n}").write_text(core_txt(v, n))
    (crashdir / "bounds").write_text(f"{n + 1}\n")
    return vmcore
