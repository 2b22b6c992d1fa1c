"""FreeBSD cores: every ``FreeBSD`` note folded into one :class:`NoteView`.

The decoders are in :mod:`.freebsd_notes` (threads, process) and :mod:`.freebsd_procstat`
(``NT_PROCSTAT_*``). The kernel (``sys/kern/imgact_elf.c``, ``__elfN(prepare_notes)``) writes
per-thread notes right after their thread's ``NT_PRSTATUS``, so a note belongs to the last
``NT_PRSTATUS`` seen; the dumping thread (the one that took the signal) is written first.

Where the facts land: threads (tid = ``pr_pid``, the LWP id), registers, ``pr_cursig`` per
thread, names (``NT_THRMISC``, else ``NT_PTLWPINFO``'s ``pl_tdname``, else ``kinfo_proc``'s
``ki_tdname``), the signal (``NT_PTLWPINFO``'s siginfo when the kernel wrote one, else
``pr_cursig`` alone), mappings with paths (VMMAP), auxv; OS-specific facts in ``details``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from coresnap.corefile import freebsd_notes as N
from coresnap.corefile import freebsd_procstat as P
from coresnap.corefile.bsd_signals import signal_name
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

NAMESPACE = "FreeBSD"
Decoded = dict[str, object]


class _Folder:
    """Accumulates decoded notes in file order; :meth:`view` builds the NoteView."""

    def __init__(self, ident: ElfIdent) -> None:
        self.ident = ident
        self.threads: list[Thread] = []
        self.by_tid: dict[int, Thread] = {}
        self.prpsinfo: Decoded = {}
        self.kinfo_proc: list[Decoded] = []
        self.details: dict[str, object] = {}
        self.auxv: list[AuxvEntry] = []
        self.files: list[Mapping] = []
        self.decoded: list[tuple[Note, Decoded | None]] = []
        self._handlers: dict[int, Callable[[Note], Decoded]] = {
            N.NT_PRSTATUS: self._prstatus,
            N.NT_FPREGSET: self._fpregset,
            N.NT_PRPSINFO: self._prpsinfo,
            N.NT_THRMISC: self._thrmisc,
            N.NT_PTLWPINFO: self._ptlwpinfo,
            N.NT_PROCSTAT_PROC: self._proc,
            N.NT_PROCSTAT_FILES: self._files,
            N.NT_PROCSTAT_VMMAP: self._vmmap,
            N.NT_PROCSTAT_GROUPS: self._groups,
            N.NT_PROCSTAT_UMASK: self._scalar("umask"),
            N.NT_PROCSTAT_RLIMIT: self._rlimit,
            N.NT_PROCSTAT_OSREL: self._scalar("osrel", signed=True),
            N.NT_PROCSTAT_PSSTRINGS: self._scalar("psstrings"),
            N.NT_PROCSTAT_AUXV: self._auxv,
        }

    def add(self, note: Note) -> None:
        handler = self._handlers.get(note.type) if note.name == NAMESPACE else None
        if handler is None:
            if note.name == NAMESPACE and note.type in N.RAW_THREAD_NOTES and self.threads:
                self.threads[-1].raw_notes[N.RAW_THREAD_NOTES[note.type]] = len(note.desc)
            self.decoded.append((note, None))
            return
        self.decoded.append((note, handler(note)))

    def _current(self) -> Thread | None:
        # A per-thread note before any NT_PRSTATUS belongs to no thread; it stays decoded.
        return self.threads[-1] if self.threads else None

    def _prstatus(self, note: Note) -> Decoded:
        fields, registers = N.decode_prstatus(note, self.ident)
        t = Thread(cast(int, fields["pr_pid"]), registers, signal=cast(int, fields["pr_cursig"]))
        layout = N.REGISTERS.get(self.ident.arch)
        if layout is not None and registers:
            t.pc, t.sp = registers[layout.pc], registers[layout.sp]
        t.pr_info = {k: v for k, v in fields.items() if isinstance(v, int)}
        self.threads.append(t)
        self.by_tid.setdefault(t.tid, t)
        return {**fields, "registers": registers}

    def _fpregset(self, note: Note) -> Decoded:
        t = self._current()
        if t is not None:
            t.fpregs = note.desc
        return {"size": len(note.desc)}

    def _prpsinfo(self, note: Note) -> Decoded:
        self.prpsinfo = N.decode_prpsinfo(note, self.ident)
        return self.prpsinfo

    def _thrmisc(self, note: Note) -> Decoded:
        d = N.decode_thrmisc(note)
        t = self._current()
        if t is not None and d["pr_tname"]:
            t.name = cast(str, d["pr_tname"])
        return d

    def _ptlwpinfo(self, note: Note) -> Decoded:
        d, info = N.decode_ptlwpinfo(note, self.ident)
        t = self.by_tid.get(cast(int, d["pl_lwpid"])) or self._current()
        if t is not None:
            t.siginfo = info or t.siginfo
            t.name = t.name or cast(str, d["pl_tdname"]) or None
        return d

    def _proc(self, note: Note) -> Decoded:
        self.kinfo_proc = P.decode_kinfo_proc(note, self.ident)
        return {"kinfo_proc": self.kinfo_proc}

    def _files(self, note: Note) -> Decoded:
        self.details["files"] = files = P.decode_files(note, self.ident)
        return {"files": files}

    def _vmmap(self, note: Note) -> Decoded:
        entries, maps = P.decode_vmmap(note, self.ident)
        self.details["vmmap"] = entries
        self.files = [m for m in maps if m.path]
        return {"vmmap": entries}

    def _groups(self, note: Note) -> Decoded:
        self.details["groups"] = groups = P.decode_groups(note, self.ident)
        return {"groups": groups}

    def _rlimit(self, note: Note) -> Decoded:
        self.details["rlimits"] = limits = P.decode_rlimit(note, self.ident)
        return {"rlimits": limits}

    def _scalar(self, key: str, signed: bool = False) -> Callable[[Note], Decoded]:
        def handle(note: Note) -> Decoded:
            label = N.NOTE_NAMES[note.type]
            self.details[key] = value = P.decode_scalar(note, self.ident, label, signed=signed)
            return {key: value}

        return handle

    def _auxv(self, note: Note) -> Decoded:
        self.auxv = P.decode_auxv(note, self.ident)
        return {"auxv": [(a.name, a.a_val) for a in self.auxv]}

    def view(self) -> NoteView:
        self._name_threads_from_kinfo()
        crashed = 0 if self.threads and self.threads[0].signal else None
        signal = None
        if crashed is not None:
            first = self.threads[0]
            signal = first.siginfo or SignalInfo(
                first.signal, signal_name(first.signal, "freebsd"), source="cursig"
            )
        if self.kinfo_proc:
            self.details["kinfo_proc"] = self.kinfo_proc[0]
        if self.threads and "pr_osreldate" in self.threads[0].pr_info:
            self.details.setdefault("pr_osreldate", self.threads[0].pr_info["pr_osreldate"])
        return NoteView("freebsd", self._process(), self.threads, crashed, signal, self.auxv,
                        self.files, self.details, self.decoded)  # fmt: skip

    def _name_threads_from_kinfo(self) -> None:
        names = {
            k["ki_tid"]: cast(str, k["ki_tdname"]) + cast(str, k["ki_moretdname"])
            for k in self.kinfo_proc
        }
        for t in self.threads:
            t.name = t.name or names.get(t.tid) or None

    def _process(self) -> ProcessInfo:
        p, k = self.prpsinfo, (self.kinfo_proc[0] if self.kinfo_proc else {})

        def num(d: Decoded, key: str) -> int | None:
            v = d.get(key)
            return v if isinstance(v, int) else None

        text = [f for f in cast(list[Decoded], self.details.get("files", []))
                if f["kf_fd"] == P.KF_FD_TYPE_TEXT]  # fmt: skip
        return ProcessInfo(
            pid=num(p, "pr_pid") or num(k, "ki_pid"),
            ppid=num(k, "ki_ppid"),
            pgrp=num(k, "ki_pgid"),
            sid=num(k, "ki_sid"),
            uid=num(k, "ki_ruid"),
            gid=num(k, "ki_rgid"),
            fname=cast(str | None, p.get("pr_fname") or k.get("ki_comm")),
            psargs=cast(str | None, p.get("pr_psargs")),
            state=cast(str | None, k.get("ki_stat_name")),
            nice=num(k, "ki_nice"),
            flag=num(k, "ki_flag"),
            exe=cast(str | None, text[0]["kf_path"]) if text else None,
        )


def fold(notes: list[Note], ident: ElfIdent) -> NoteView:
    """Decode every ``FreeBSD`` note of a core and fold them into one :class:`NoteView`.

    Notes of other namespaces and unknown types stay raw (``decoded_notes`` pairs them with
    None). ``crashed_index`` is 0 when the first thread's ``pr_cursig`` is set (FreeBSD writes
    the signalled thread first). Raises CoreFormatError when a known note is malformed.
    """
    folder = _Folder(ident)
    for note in notes:
        folder.add(note)
    return folder.view()
