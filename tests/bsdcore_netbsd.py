"""Read a real NetBSD core as a :class:`bsdcore.SourceCore`, to re-encode it for FreeBSD arm64.

This machine cannot crash an aarch64 program, but the corpus holds real aarch64 crashes
written by NetBSD's kernel (LLDB's test cores). Their registers and memory, re-encoded by
:func:`bsdcore.build_freebsd_core`, give FreeBSD arm64 cores with real contents. This reader
is the test's own (``struct netbsd_elfcore_procinfo`` from ``sys/sys/exec_elf.h``; per-LWP
``PT_GETREGS`` = 32 and ``PT_GETFPREGS`` = 34 on aarch64), independent of
``coresnap.corefile.netbsd``.
"""

from __future__ import annotations

import struct
from pathlib import Path

from tests.bsdcore import PT_LOAD, Load, SourceCore, SourceThread, _phdrs, walk_notes

# NetBSD AT_* -> Linux AT_* numbering, which build_freebsd_core translates to FreeBSD's.
_AUXV = {3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 9: 9, 2000: 12, 2001: 11, 2002: 14, 2003: 13,
         2014: 31}  # fmt: skip


def read_netbsd_aarch64_core(path: Path, exe: Path | None = None) -> SourceCore:
    """Threads (the signalled LWP first), procinfo, auxv and PT_LOADs of a NetBSD arm64 core.

    NetBSD cores name no mapped files; with ``exe``, the mappings of the executable are found
    from its program headers and AT_ENTRY (the load bias) and given its path.
    """
    data = path.read_bytes()
    loads = [
        Load(vaddr, memsz, filesz, flags, data[off : off + filesz])
        for p_type, off, vaddr, filesz, memsz, flags in _phdrs(data, 64)
        if p_type == PT_LOAD
    ]
    notes = [n for n, _ in walk_notes(data, 64)]
    core = SourceCore(64, 183, loads, notes, os="netbsd")
    siglwp = 0
    lwps: dict[int, SourceThread] = {}
    for n in notes:
        if n.name == "NetBSD-CORE" and n.type == 1:  # ELF_NOTE_NETBSD_CORE_PROCINFO
            core.cursig = struct.unpack_from("<i", n.desc, 8)[0]
            pid, ppid, pgrp, sid, ruid = struct.unpack_from("<5i", n.desc, 80)
            (rgid,) = struct.unpack_from("<i", n.desc, 108)
            name = n.desc[124:156].split(b"\0")[0].decode()
            (siglwp,) = struct.unpack_from("<i", n.desc, 156)
            core.psinfo = dict(pid=pid, ppid=ppid, pgrp=pgrp, sid=sid, uid=ruid, gid=rgid,
                               nice=0, fname=name, psargs=name)  # fmt: skip
        elif n.name == "NetBSD-CORE" and n.type == 2:  # ELF_NOTE_NETBSD_CORE_AUXV
            vals = struct.unpack_from(f"<{len(n.desc) // 8}Q", n.desc)
            pairs = zip(vals[0::2], vals[1::2], strict=False)
            core.auxv = [(_AUXV[t], v) for t, v in pairs if t in _AUXV]
        elif n.name.startswith("NetBSD-CORE@"):
            lwp = lwps.setdefault(int(n.name.split("@")[1]), SourceThread(0, {}, 0, 0))
            lwp.tid = int(n.name.split("@")[1])
            if n.type == 32:  # PT_GETREGS: r_reg[31], r_sp, r_pc, r_spsr, r_tpidr
                values = struct.unpack_from("<35Q", n.desc)
                names = [f"x{i}" for i in range(31)] + ["sp", "pc", "spsr", "tpidr"]
                lwp.regs = dict(zip(names, values, strict=True))
            elif n.type == 34:  # PT_GETFPREGS
                lwp.fpregs = n.desc
    order = sorted(lwps.values(), key=lambda t: t.tid != siglwp) if siglwp else list(lwps.values())
    core.threads = order
    if exe is not None:
        core.files = _exe_mappings(core, exe)
    return core


def _exe_mappings(core: SourceCore, exe: Path) -> list[tuple[int, int, int, str]]:
    data = exe.read_bytes()
    (e_entry,) = struct.unpack_from("<Q", data, 24)
    entry = next(v for t, v in core.auxv if t == 9)  # AT_ENTRY
    bias = entry - e_entry
    starts = {
        (bias + vaddr) & ~0xFFF: off & ~0xFFF
        for p_type, off, vaddr, _, _, _ in _phdrs(data, 64)
        if p_type == PT_LOAD
    }
    return [(ld.vaddr, ld.vaddr + ld.memsz, starts[ld.vaddr], str(exe))
            for ld in core.loads if ld.vaddr in starts]  # fmt: skip
