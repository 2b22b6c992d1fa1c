"""FreeBSD ``NT_PROCSTAT_*`` notes: what libprocstat reads from a core.

Each note is written by ``sys/kern/imgact_elf.c`` (``note_procstat_*``) as an ``int``
structsize followed by the records ``sysctl kern.proc.*`` would return. Layouts are from
``sys/sys/user.h`` (``struct kinfo_proc``, ``kinfo_file``, ``kinfo_vmentry``; offsets below are
the amd64/arm64 LP64 ones and the i386 ILP32 ones). ``kinfo_file`` and ``kinfo_vmentry`` records
are *packed* by default (``kern.coredump_pack_fileinfo`` / ``_vmmapinfo``): each record's own
structsize says how long it is, and the kernel pads the note with zeros when the table shrank
between its sizing pass and its writing pass, so a zero structsize followed only by zeros ends
the table (libprocstat's ``kinfo_getvmmap_core`` stops there too).
"""

from __future__ import annotations

from typing import cast

from coresnap.corefile.model import AuxvEntry, ElfIdent, Mapping, Note
from coresnap.corefile.reader import cstring, unpack_from
from coresnap.errors import CoreFormatError

Decoded = dict[str, object]

# No procstat record is anywhere near this (kinfo_file is 1392 bytes, kinfo_proc 1088): a
# larger structsize is a corrupt or hostile note, not a newer FreeBSD.
MAX_STRUCTSIZE = 1 << 16

# sys/sys/user.h, struct kinfo_proc, in three layouts: LP64 (amd64, arm64), i386 (ILP32 with a
# 32-bit time_t) and the other ILP32 architectures (armv7, powerpc: 64-bit time_t, 8-aligned
# int64). They agree with gdb's fbsd-tdep.c kinfo_proc_layout_64 / _i386 / _32 tables.
# (offsets..., format): "w" is a long / vm_size_t / segsz_t, "tv" a struct timeval.
_KINFO_PROC = {
    "ki_pid": (72, 40, 40, "i"),
    "ki_ppid": (76, 44, 44, "i"),
    "ki_pgid": (80, 48, 48, "i"),
    "ki_tpgid": (84, 52, 52, "i"),
    "ki_sid": (88, 56, 56, "i"),
    "ki_tsid": (92, 60, 60, "i"),
    "ki_uid": (168, 136, 136, "I"),
    "ki_ruid": (172, 140, 140, "I"),
    "ki_svuid": (176, 144, 144, "I"),
    "ki_rgid": (180, 148, 148, "I"),
    "ki_svgid": (184, 152, 152, "I"),
    "ki_ngroups": (188, 156, 156, "h"),
    "ki_size": (256, 224, 224, "w"),
    "ki_rssize": (264, 228, 228, "w"),
    "ki_start": (336, 280, 280, "tv"),
    "ki_flag": (368, 296, 312, "w"),
    "ki_stat": (388, 308, 324, "B"),
    "ki_nice": (389, 309, 325, "b"),
    "ki_jid": (592, 512, 528, "i"),
    "ki_numthreads": (596, 516, 532, "i"),
    "ki_tid": (600, 520, 536, "i"),
}
_KINFO_PROC_STRINGS = {  # char arrays: (offsets..., length)
    "ki_tdname": (394, 314, 330, 17),  # TDNAMLEN + 1
    "ki_comm": (447, 367, 383, 20),  # COMMLEN + 1
    "ki_emul": (467, 387, 403, 17),  # KI_EMULNAMELEN + 1
    "ki_moretdname": (502, 422, 438, 4),  # MAXCOMLEN - TDNAMLEN + 1
}
_KINFO_PROC_MIN = (604, 524, 540)  # through ki_tid: older or newer records must hold this much
_KI_GROUPS = (192, 160, 160)
_TIMEVAL = ("qq", "ii", "qi")
EM_386 = 3


def kinfo_proc_layout(ident: ElfIdent) -> int:
    """Which column of the kinfo_proc tables applies: 0 LP64, 1 i386, 2 other ILP32."""
    if _lp64(ident):
        return 0
    return 1 if ident.machine == EM_386 else 2


_KI_STAT = {1: "SIDL", 2: "SRUN", 3: "SSLEEP", 4: "SSTOP", 5: "SZOMB", 6: "SWAIT", 7: "SLOCK"}

# struct kinfo_vmentry: kve_path starts at 136; struct kinfo_file: kf_path at 368 (both the
# same on every architecture: fixed-width types, explicit padding; gdb's KVE_PATH 0x88 and
# KF_PATH 0x170).
_KVE_PATH = 136
_KF_PATH = 368
_KVME_TYPE = {0: "none", 1: "default", 2: "vnode", 3: "swap", 4: "device", 5: "phys",
              6: "dead", 7: "sg", 8: "mgtdevice", 9: "guard", 255: "unknown"}  # fmt: skip
KVME_PROT_READ, KVME_PROT_WRITE, KVME_PROT_EXEC = 1, 2, 4
KVME_FLAG_NOCOREDUMP = 0x4
_KF_TYPE = {0: "none", 1: "vnode", 2: "socket", 3: "pipe", 4: "fifo", 5: "kqueue", 6: "crypto",
            7: "mqueue", 8: "shm", 9: "sem", 10: "pts", 11: "procdesc", 12: "dev",
            13: "eventfd", 14: "timerfd", 255: "unknown"}  # fmt: skip
KF_FD_TYPE_TEXT = -5
_KF_FD = {-1: "cwd", -2: "root", -3: "jail", -4: "trace", -5: "text", -6: "ctty"}

# sys/sys/resource.h, RLIMIT_* (RLIM_NLIMITS is 15 through FreeBSD 13, 16 since 14).
RLIMIT_NAMES = (
    *("cpu", "fsize", "data", "stack", "core", "rss", "memlock", "nproc", "nofile", "sbsize"),
    *("vmem", "npts", "swap", "kqueues", "umtxp", "pipebuf"),
)
RLIM_INFINITY = (1 << 63) - 1

# sys/sys/elf_common.h: FreeBSD's AT_* numbering (not Linux's above AT_NOTELF).
_AT = (
    "NULL IGNORE EXECFD PHDR PHENT PHNUM PAGESZ BASE FLAGS ENTRY NOTELF UID EUID GID EGID "
    "EXECPATH CANARY CANARYLEN OSRELDATE NCPUS PAGESIZES PAGESIZESLEN TIMEKEEP STACKPROT "
    "EHDRFLAGS HWCAP HWCAP2 BSDFLAGS ARGC ARGV ENVC ENVV PS_STRINGS FXRNG KPRELOAD "
    "USRSTACKBASE USRSTACKLIM"
)
AT_NAMES = {i: f"AT_{n}" for i, n in enumerate(_AT.split())}


def _lp64(ident: ElfIdent) -> bool:
    return ident.elfclass == 64


def structsize(note: Note, ident: ElfIdent, minimum: int, label: str) -> int:
    """The leading ``int`` structsize of a procstat note, checked to be in [minimum, 64 KiB].

    Raises CoreFormatError (naming the structsize's file offset) when it is out of range.
    """
    (size,) = unpack_from(ident.byteorder + "i", note.desc, 0, f"{label} structsize",
                          note.desc_offset)  # fmt: skip
    if not minimum <= size <= MAX_STRUCTSIZE:
        raise CoreFormatError(
            note.desc_offset, f"{label}: structsize {size} outside [{minimum}, {MAX_STRUCTSIZE}]"
        )
    return size


def _records(note: Note, size: int) -> list[tuple[int, bytes]]:
    """Fixed-size records after the structsize: (offset in desc, bytes); a tail is ignored."""
    count = (len(note.desc) - 4) // size
    return [(4 + i * size, note.desc[4 + i * size : 4 + (i + 1) * size]) for i in range(count)]


def decode_kinfo_proc(note: Note, ident: ElfIdent) -> list[Decoded]:
    """``NT_PROCSTAT_PROC``: one ``struct kinfo_proc`` per thread (ki_tid, ki_tdname differ).

    Raises CoreFormatError when the structsize is too small to hold ki_tid or absurd.
    """
    col = kinfo_proc_layout(ident)
    size = structsize(note, ident, _KINFO_PROC_MIN[col], "NT_PROCSTAT_PROC")
    o, w = ident.byteorder, ("q" if col == 0 else "i")
    out = []
    for _, rec in _records(note, size):
        d: Decoded = {"ki_structsize": size}
        for name, (*offsets, fmt) in _KINFO_PROC.items():
            at = offsets[col]
            if fmt == "tv":
                sec, usec = unpack_from(o + _TIMEVAL[col], rec, at, name)
                d[name] = sec + usec / 1e6
            else:
                (d[name],) = unpack_from(o + (w if fmt == "w" else fmt), rec, at, name)
        for name, (*offsets, length) in _KINFO_PROC_STRINGS.items():
            d[name] = cstring(rec[offsets[col] : offsets[col] + length])
        ngroups = max(0, min(cast(int, d["ki_ngroups"]), 16))  # KI_NGROUPS
        d["ki_groups"] = list(unpack_from(f"{o}{ngroups}I", rec, _KI_GROUPS[col], "ki_groups"))
        d["ki_stat_name"] = _KI_STAT.get(cast(int, d["ki_stat"]))
        out.append(d)
    return out


def _packed(note: Note, ident: ElfIdent, path_at: int, label: str) -> list[tuple[int, bytes]]:
    """Variable-size records whose first ``int`` is their own size (kinfo_file, kinfo_vmentry).

    Raises CoreFormatError at the record's file offset when a size is below the fixed part,
    runs past the desc, or is 0 with non-zero bytes after it (0 then zeros is kernel padding).
    """
    structsize(note, ident, path_at, label)
    d, o, pos, out = note.desc, ident.byteorder, 4, []
    while pos < len(d):
        if len(d) - pos < 4 or int.from_bytes(d[pos : pos + 4], "little") == 0:
            if any(d[pos:]):
                raise CoreFormatError(
                    note.desc_offset + pos, f"{label}: record size 0 before the end of the note"
                )
            break
        (size,) = unpack_from(o + "i", d, pos, f"{label} record size", note.desc_offset)
        if size < path_at or pos + size > len(d):
            raise CoreFormatError(
                note.desc_offset + pos,
                f"{label}: record size {size} (fixed part {path_at}, {len(d) - pos} bytes left)",
            )
        out.append((pos, d[pos : pos + size]))
        pos += size
    return out


def decode_vmmap(note: Note, ident: ElfIdent) -> tuple[list[Decoded], list[Mapping]]:
    """``NT_PROCSTAT_VMMAP``: every ``kinfo_vmentry``, and the mappings they describe.

    Raises CoreFormatError as :func:`_packed` does.
    """
    o, out, maps = ident.byteorder, [], []
    for _, rec in _packed(note, ident, _KVE_PATH, "NT_PROCSTAT_VMMAP"):
        _, kve_type, start, end, offset = unpack_from(o + "iiQQQ", rec, 0, "kinfo_vmentry")
        kve_flags, _, _, prot = unpack_from(o + "iiii", rec, 44, "kve_flags")
        path = cstring(rec[_KVE_PATH:]) or None
        perms = "".join(c if prot & bit else "-" for c, bit in zip("rwx", (1, 2, 4), strict=True))
        out.append({
            "kve_type": _KVME_TYPE.get(kve_type, str(kve_type)), "kve_start": start,
            "kve_end": end, "kve_offset": offset, "kve_flags": kve_flags,
            "kve_protection": prot, "kve_path": path,
        })  # fmt: skip
        maps.append(Mapping(start, end, perms, offset if path else 0, path))
    return out, maps


def decode_files(note: Note, ident: ElfIdent) -> list[Decoded]:
    """``NT_PROCSTAT_FILES``: each ``kinfo_file`` (type, fd or its KF_FD_TYPE_* name, path).

    Raises CoreFormatError as :func:`_packed` does.
    """
    out = []
    for _, rec in _packed(note, ident, _KF_PATH, "NT_PROCSTAT_FILES"):
        _, kf_type, kf_fd, _, kf_flags = unpack_from(ident.byteorder + "iiiii", rec, 0, "kf")
        (kf_offset,) = unpack_from(ident.byteorder + "q", rec, 24, "kf_offset")
        out.append({
            "kf_type": _KF_TYPE.get(kf_type, str(kf_type)), "kf_fd": kf_fd,
            "kf_fd_name": _KF_FD.get(kf_fd), "kf_flags": kf_flags, "kf_offset": kf_offset,
            "kf_path": cstring(rec[_KF_PATH:]) or None,
        })  # fmt: skip
    return out


def decode_scalar(note: Note, ident: ElfIdent, label: str, *, signed: bool = False) -> int:
    """OSREL (int, ``signed``), UMASK (u_short), PSSTRINGS (vm_offset_t): the value after
    the structsize.

    Raises CoreFormatError when the structsize is not 2, 4 or 8 or the value is missing.
    """
    size = structsize(note, ident, 2, label)
    code = {2: "H", 4: "I", 8: "Q"}.get(size)
    if code is None:
        raise CoreFormatError(note.desc_offset, f"{label}: structsize {size} is not 2, 4 or 8")
    code = code.lower() if signed else code
    return unpack_from(ident.byteorder + code, note.desc, 4, label, note.desc_offset)[0]


def decode_groups(note: Note, ident: ElfIdent) -> list[int]:
    """``NT_PROCSTAT_GROUPS``: the gid_t array. Raises CoreFormatError if structsize != 4."""
    if structsize(note, ident, 4, "NT_PROCSTAT_GROUPS") != 4:
        raise CoreFormatError(note.desc_offset, "NT_PROCSTAT_GROUPS: structsize is not 4")
    return [int.from_bytes(r, "little" if ident.byteorder == "<" else "big")
            for _, r in _records(note, 4)]  # fmt: skip


def decode_rlimit(note: Note, ident: ElfIdent) -> dict[str, tuple[int, int]]:
    """``NT_PROCSTAT_RLIMIT``: ``struct rlimit[RLIM_NLIMITS]`` as name -> (cur, max).

    Raises CoreFormatError if structsize is not 16 (two int64 rlim_t).
    """
    if structsize(note, ident, 16, "NT_PROCSTAT_RLIMIT") != 16:
        raise CoreFormatError(note.desc_offset, "NT_PROCSTAT_RLIMIT: structsize is not 16")
    out = {}
    for i, (at, rec) in enumerate(_records(note, 16)):
        cur, mx = unpack_from(ident.byteorder + "qq", rec, 0, "rlimit", note.desc_offset + at)
        out[RLIMIT_NAMES[i] if i < len(RLIMIT_NAMES) else f"rlimit{i}"] = (cur, mx)
    return out


def decode_auxv(note: Note, ident: ElfIdent) -> list[AuxvEntry]:
    """``NT_PROCSTAT_AUXV``: ``Elf_Auxinfo`` pairs up to AT_NULL, with FreeBSD's AT_* names.

    Raises CoreFormatError if structsize is not twice the word size.
    """
    width = 8 if _lp64(ident) else 4
    if structsize(note, ident, 2 * width, "NT_PROCSTAT_AUXV") != 2 * width:
        raise CoreFormatError(note.desc_offset, f"NT_PROCSTAT_AUXV: structsize is not {2 * width}")
    code = ident.byteorder + ("qQ" if width == 8 else "iI")
    out = []
    for _, rec in _records(note, 2 * width):
        a_type, a_val = unpack_from(code, rec, 0, "Elf_Auxinfo")
        if a_type == 0:
            break
        out.append(AuxvEntry(a_type, AT_NAMES.get(a_type, f"AT_{a_type}"), a_val))
    return out
