"""Linux core notes: ``NT_PRSTATUS``, ``NT_PRPSINFO``, ``NT_SIGINFO``, ``NT_AUXV``, ``NT_FILE``.

Layouts follow the kernel's ``include/uapi/linux/elfcore.h`` (``elf_prstatus``,
``elf_prpsinfo``), ``siginfo.h`` and ``fs/binfmt_elf.c`` (``fill_files_note``). ``long`` is the
ELF class's word size; ``m68k`` aligns ``long`` on 2 bytes. Per-thread notes follow their
thread's ``NT_PRSTATUS``; the first ``NT_PRSTATUS`` is the thread that took the signal
(``fill_note_info`` puts the dumping thread first).
"""

from __future__ import annotations

from coresnap.corefile import structs as S
from coresnap.corefile.model import (
    AuxvEntry,
    ElfIdent,
    Mapping,
    Note,
    NoteView,
    ProcessInfo,
    SignalInfo,
    Thread,
)
from coresnap.corefile.reader import cstring, unpack_from, words
from coresnap.corefile.registers import LAYOUTS
from coresnap.corefile.signals import (
    FAULT_SIGNALS,
    at_name,
    sent_by_process,
    si_code_name,
    signal_name,
)
from coresnap.errors import CoreFormatError

Decoded = dict[str, object]


def _word(ident: ElfIdent) -> tuple[int, str]:
    return (8, "Q") if ident.elfclass == 64 else (4, "I")


def decode_prstatus(note: Note, ident: ElfIdent) -> tuple[Decoded, dict[str, int]]:
    """The fields of one ``elf_prstatus`` and its registers (empty when the arch is unknown).

    Raises CoreFormatError when the desc is shorter than the fixed header before ``pr_reg``.
    """
    w, wc = _word(ident)
    o = ident.byteorder
    d, base = note.desc, note.desc_offset
    si_signo, si_code, si_errno, pr_cursig = unpack_from(o + "iiih", d, 0, "pr_info", base)
    at = 14 if ident.machine == S.EM_68K else 16  # long after pr_cursig: 2-aligned on m68k
    sigpend, sighold = unpack_from(o + wc + wc, d, at, "pr_sigpend", base)
    at += 2 * w
    pid, ppid, pgrp, sid = unpack_from(o + "iiii", d, at, "pr_pid", base)
    at += 16
    times = unpack_from(o + ("q" if w == 8 else "i") * 8, d, at, "pr_utime", base)
    at += 8 * w
    fields: Decoded = {
        "si_signo": si_signo,
        "si_code": si_code,
        "si_errno": si_errno,
        "pr_cursig": pr_cursig,
        "pr_sigpend": sigpend,
        "pr_sighold": sighold,
        "pr_pid": pid,
        "pr_ppid": ppid,
        "pr_pgrp": pgrp,
        "pr_sid": sid,
    }
    for i, name in enumerate(("pr_utime", "pr_stime", "pr_cutime", "pr_cstime")):
        fields[name] = times[2 * i] + times[2 * i + 1] / 1e6
    layout = LAYOUTS.get(ident.arch)
    registers: dict[str, int] = {}
    if layout is not None and len(d) >= at + layout.size:
        registers = layout.decode(d[at:], o)
        if len(d) >= at + layout.size + 4:
            (fields["pr_fpvalid"],) = unpack_from(o + "i", d, at + layout.size, "pr_fpvalid", base)
    else:
        fields["pr_reg_raw"] = d[at:].hex()
    return fields, registers


def decode_prpsinfo(note: Note, ident: ElfIdent) -> Decoded:
    """``elf_prpsinfo``; ``pr_uid``/``pr_gid`` are 16-bit on some 32-bit ABIs (i386, arm).

    Raises CoreFormatError when the desc size fits no known layout.
    """
    w, wc = _word(ident)
    o, d, base = ident.byteorder, note.desc, note.desc_offset
    # chars, pr_flag, 4 pid_t, pr_fname[16], pr_psargs[80]: the rest is pr_uid + pr_gid.
    uid_width = (len(d) - (120 if w == 4 else 128)) // 2
    if uid_width not in (2, 4, 8):
        raise CoreFormatError(base, f"NT_PRPSINFO of {len(d)} bytes fits no known layout")
    uc = {2: "H", 4: "I", 8: "Q"}[uid_width]
    state, sname, zomb, nice = unpack_from(o + "bBbb", d, 0, "pr_state", base)
    flag_at = w
    (flag,) = unpack_from(o + wc, d, flag_at, "pr_flag", base)
    at = flag_at + w
    uid, gid = unpack_from(o + uc + uc, d, at, "pr_uid", base)
    at += 2 * uid_width
    pid, ppid, pgrp, sid = unpack_from(o + "iiii", d, at, "pr_pid", base)
    at += 16
    if len(d) < at + 96:
        raise CoreFormatError(base + at, "NT_PRPSINFO: pr_fname/pr_psargs cut short")
    return {
        "pr_state": state,
        "pr_sname": chr(sname) if sname else "",
        "pr_zomb": zomb,
        "pr_nice": nice,
        "pr_flag": flag,
        "pr_uid": uid,
        "pr_gid": gid,
        "pr_pid": pid,
        "pr_ppid": ppid,
        "pr_pgrp": pgrp,
        "pr_sid": sid,
        "pr_fname": cstring(d[at : at + 16]),
        "pr_psargs": cstring(d[at + 16 : at + 96]),
    }


def decode_siginfo(note: Note, ident: ElfIdent) -> SignalInfo:
    """``siginfo_t``: MIPS stores si_code before si_errno; the union follows, word-aligned.

    Raises CoreFormatError when the desc is too short for the fields its si_code selects.
    """
    w, wc = _word(ident)
    o, d, base = ident.byteorder, note.desc, note.desc_offset
    signo, b, c = unpack_from(o + "iii", d, 0, "si_signo", base)
    errno, code = (c, b) if ident.machine == S.EM_MIPS else (b, c)
    name = signal_name(signo, ident.arch)
    info = SignalInfo(signo, name, code, si_code_name(name, code), errno)
    union = 16 if w == 8 else 12
    if sent_by_process(code):
        info.sender_pid, info.sender_uid = unpack_from(o + "iI", d, union, "si_pid", base)
    elif name in FAULT_SIGNALS:
        (info.addr,) = unpack_from(o + wc, d, union, "si_addr", base)
    return info


def decode_auxv(note: Note, ident: ElfIdent) -> list[AuxvEntry]:
    """``NT_AUXV``: (a_type, a_val) word pairs up to ``AT_NULL``."""
    w, _ = _word(ident)
    values = words(note.desc, w, ident.byteorder)
    entries = []
    for a_type, a_val in zip(values[0::2], values[1::2], strict=False):
        if a_type == 0:
            break
        entries.append(AuxvEntry(a_type, at_name(a_type), a_val))
    return entries


def _nt_file(d: bytes, w: int, o: str, base: int) -> tuple[int, list[Mapping]]:
    wc = "Q" if w == 8 else "I"
    count, page_size = unpack_from(o + wc + wc, d, 0, "NT_FILE count", base)
    table_end = 2 * w + 3 * w * count  # checked against the desc before anything is built
    if table_end > len(d):
        raise CoreFormatError(base, f"NT_FILE: count {count} needs {table_end} bytes, has {len(d)}")
    values = words(d[2 * w : table_end], w, o)
    names = d[table_end:].split(b"\0")
    if len(names) < count:
        raise CoreFormatError(base + table_end, f"NT_FILE: {count} entries, {len(names)} names")
    files = []
    for i in range(count):
        start, end, file_ofs = values[3 * i : 3 * i + 3]
        if start >= end or page_size & (page_size - 1) or not page_size:
            raise CoreFormatError(base, f"NT_FILE entry {i}: {start:#x}-{end:#x}, page {page_size}")
        path = names[i].decode("utf-8", errors="surrogateescape")
        files.append(Mapping(start, end, "???", file_ofs * page_size, path))
    return page_size, files


def decode_file(note: Note, ident: ElfIdent) -> tuple[int, list[Mapping]]:
    """``NT_FILE``: (page_size, mappings); ``file_ofs`` is in pages, converted to bytes.

    A 64-bit MIPS kernel writes the NT_FILE of an o32/n32 process with 64-bit longs (seen in
    LLDB's MIPS cores): when the class's word size gives impossible entries, 8 is tried.
    Raises CoreFormatError when the count does not fit the desc, names are missing, or an
    entry is impossible (end below start, page size not a power of two).
    """
    w, _ = _word(ident)
    try:
        return _nt_file(note.desc, w, ident.byteorder, note.desc_offset)
    except CoreFormatError:
        if w == 8:
            raise
        try:
            return _nt_file(note.desc, 8, ident.byteorder, note.desc_offset)
        except CoreFormatError:
            pass
        raise


def _note_name(note: Note) -> str:
    return S.CORE_NOTE_NAMES.get(note.type, f"NT_{note.type:#x}")


def _is_linux(note: Note) -> bool:
    return note.name in ("CORE", "LINUX")


class _Folder:
    """Walks the notes in file order, attaching per-thread notes to the last NT_PRSTATUS."""

    def __init__(self, ident: ElfIdent) -> None:
        self.ident = ident
        self.view = NoteView("linux", ProcessInfo(), [], None, None)
        self.prpsinfo: Decoded | None = None

    def add(self, note: Note) -> Decoded | None:
        if not _is_linux(note):
            return None
        handler = self._HANDLERS.get(note.type)
        if handler is not None:
            return handler(self, note)
        current = self.view.threads[-1] if self.view.threads else None
        if current is not None:
            current.raw_notes[_note_name(note)] = len(note.desc)
        return {"size": len(note.desc)}

    def _prstatus(self, note: Note) -> Decoded:
        fields, registers = decode_prstatus(note, self.ident)
        layout = LAYOUTS.get(self.ident.arch)
        thread = Thread(
            tid=int(fields["pr_pid"]),  # type: ignore[call-overload]
            registers=registers,
            signal=int(fields["pr_cursig"]),  # type: ignore[call-overload]
            pc=registers.get(layout.pc) if layout else None,
            sp=registers.get(layout.sp) if layout else None,
            pr_info={k: v for k, v in fields.items() if isinstance(v, int)},
        )
        self.view.threads.append(thread)
        return {**fields, "registers": registers}

    def _prpsinfo(self, note: Note) -> Decoded:
        self.prpsinfo = decode_prpsinfo(note, self.ident)
        return self.prpsinfo

    def _siginfo(self, note: Note) -> Decoded:
        info = decode_siginfo(note, self.ident)
        if self.view.threads and self.view.threads[-1].siginfo is None:
            self.view.threads[-1].siginfo = info
        elif self.view.signal is None:
            self.view.signal = info
        return dict(vars(info))

    def _fpregset(self, note: Note) -> Decoded:
        if self.view.threads:
            self.view.threads[-1].fpregs = note.desc
        return {"size": len(note.desc)}

    def _auxv(self, note: Note) -> Decoded:
        self.view.auxv = decode_auxv(note, self.ident)
        return {e.name: e.a_val for e in self.view.auxv}

    def _file(self, note: Note) -> Decoded:
        page_size, self.view.files = decode_file(note, self.ident)
        self.view.details["nt_file_page_size"] = page_size
        return {"page_size": page_size, "count": len(self.view.files)}

    _HANDLERS = {
        S.NT_PRSTATUS: _prstatus,
        S.NT_PRPSINFO: _prpsinfo,
        S.NT_SIGINFO: _siginfo,
        S.NT_FPREGSET: _fpregset,
        S.NT_AUXV: _auxv,
        S.NT_FILE: _file,
    }

    def finish(self) -> NoteView:
        view = self.view
        if self.prpsinfo is not None:
            view.process = _process(self.prpsinfo)
        view.crashed_index = _crashed_index(view.threads)
        if view.crashed_index is not None:
            crashed = view.threads[view.crashed_index]
            view.signal = crashed.siginfo or view.signal or _cursig_signal(crashed, self.ident)
        for thread in view.threads:
            # gdb's gcore leaves pr_cursig 0 and puts each thread's stop signal in its own
            # NT_SIGINFO; the kernel sets both.
            if not thread.signal and thread.siginfo is not None:
                thread.signal = thread.siginfo.signo
            # Linux cores hold no per-thread names: pr_fname is the group leader's comm.
            if view.process.pid is not None and thread.tid == view.process.pid:
                thread.name = view.process.fname
        return view


def _process(p: Decoded) -> ProcessInfo:
    def num(key: str) -> int:
        return int(p[key])  # type: ignore[call-overload]

    return ProcessInfo(
        pid=num("pr_pid"),
        ppid=num("pr_ppid"),
        pgrp=num("pr_pgrp"),
        sid=num("pr_sid"),
        uid=num("pr_uid"),
        gid=num("pr_gid"),
        fname=str(p["pr_fname"]),
        psargs=str(p["pr_psargs"]).rstrip(" "),
        state=str(p["pr_sname"]),
        nice=num("pr_nice"),
        flag=num("pr_flag"),
    )


def _crashed_index(threads: list[Thread]) -> int | None:
    """The thread with NT_SIGINFO, else the first with a pr_cursig, else the first."""
    for i, t in enumerate(threads):
        if t.siginfo is not None:
            return i
    for i, t in enumerate(threads):
        if t.signal:
            return i
    return 0 if threads else None


def _cursig_signal(thread: Thread, ident: ElfIdent) -> SignalInfo | None:
    if not thread.signal:
        return None
    return SignalInfo(thread.signal, signal_name(thread.signal, ident.arch), source="cursig")


def fold(notes: list[Note], ident: ElfIdent) -> NoteView:
    """Decode the Linux notes of a core into a :class:`NoteView`; unknown notes stay raw.

    Raises CoreFormatError when a known note is malformed (too short for its layout).
    """
    folder = _Folder(ident)
    for note in notes:
        folder.view.decoded_notes.append((note, folder.add(note)))
    return folder.finish()
