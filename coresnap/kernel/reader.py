"""A kernel dump's texts → :class:`KernelDump`, whichever of them savecore and crashinfo left.

The texts are named as in the crash directory without their number: ``info``, ``core.txt``,
and the textdump's members ``ddb.txt``, ``msgbuf.txt``, ``panic.txt``, ``version.txt``,
``config.txt``. The asset tar coresnap keeps of a kernel dump holds them under ``kernel/``
(:data:`ASSET_PREFIX`), so a snapshot can be made again from the assets alone.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coresnap.errors import KernelDumpError
from coresnap.kernel import crashinfo, ddb, savecore, textdump
from coresnap.kernel.model import MAX_TEXT, Backtrace, KernelDump, MessageBuffer

ASSET_PREFIX = "kernel/"
TEXTS = ("info", "core.txt", *textdump.MEMBERS)


def texts_of(dump: savecore.DumpSet) -> dict[str, str]:
    """The texts of a dump in a crash directory (the textdump archive opened)."""
    texts: dict[str, str] = {}
    if dump.info:
        texts["info"] = savecore.read_text(dump.info)
    if dump.core_txt:
        texts["core.txt"] = savecore.read_text(dump.core_txt)
    if dump.textdump:
        texts.update(textdump.read_textdump(dump.textdump))
    return texts


def texts_from_assets(path: str | os.PathLike[str]) -> dict[str, str]:
    """The ``kernel/*`` texts of an asset tar. Raises KernelDumpError."""
    texts: dict[str, str] = {}
    try:
        with tarfile.open(Path(path), "r") as tar:
            for member in tar:
                name = member.name[len(ASSET_PREFIX) :]
                if member.isfile() and member.name.startswith(ASSET_PREFIX) and name in TEXTS:
                    f = tar.extractfile(member)
                    if f is not None:
                        texts[name] = f.read(MAX_TEXT).decode("utf-8", errors="replace")
    except (OSError, tarfile.TarError) as e:
        raise KernelDumpError(str(path), f"unreadable asset tar: {e}") from None
    if not texts:
        raise KernelDumpError(str(path), "no kernel/* texts: not the assets of a kernel dump")
    return texts


def _merge(first: MessageBuffer, second: MessageBuffer) -> MessageBuffer:
    for name in first.__dataclass_fields__:
        if getattr(first, name) is None:
            setattr(first, name, getattr(second, name))
    return first


def read_dump(texts: Mapping[str, str]) -> KernelDump:
    """Parse the texts of one kernel dump. Raises KernelDumpError if none says anything."""
    if "core.txt" in texts:
        dump = _crashinfo(texts["core.txt"])
    elif "ddb.txt" in texts or "msgbuf.txt" in texts:
        dump = _textdump(texts)
    elif "info" in texts:
        dump = KernelDump(source="savecore")
        dump.warnings.append("only info.N: no backtrace (no core.txt, no textdump)")
    else:
        raise KernelDumpError("(texts)", f"none of {', '.join(TEXTS)}")
    dump.files = [name for name in TEXTS if name in texts]
    if "info" in texts:
        dump.header = savecore.parse_info(texts["info"])
    h, mb = dump.header, dump.msgbuf
    first_version = (texts.get("version.txt") or "").strip().splitlines()[:1]
    dump.panic = _first((texts.get("panic.txt") or "").strip(), h.panic, dump.panic, mb.panic)
    dump.version = _first(first_version[0] if first_version else None, h.version, dump.version)
    dump.hostname = _first(h.hostname, dump.hostname)
    dump.machine = _first(h.architecture, dump.machine)
    dump.crash_time = mb.time if mb.time is not None else h.dumptime
    if dump.curthread_pid is None:
        dump.curthread_pid = _first(dump.backtrace.pid, mb.process_pid)
        dump.curthread_tid = dump.backtrace.tid
    dump.curthread_name = _first(dump.curthread_name, mb.process_name)
    if not dump.backtrace.frames:
        dump.warnings.append("no backtrace of the panicking thread found")
    return dump


def _first(*values: Any) -> Any:
    """The first value that is neither None nor empty."""
    return next((v for v in values if v not in (None, "")), None)


def _crashinfo(text: str) -> KernelDump:
    parts = crashinfo.sections(text)
    top = parts[""]
    found = crashinfo.header(top)
    dump = KernelDump(source="crashinfo")
    dump.msgbuf = _merge(ddb.parse_msgbuf(top), ddb.parse_msgbuf(parts.get("dmesg", "")))
    dump.backtrace = crashinfo.kgdb_backtrace(top)
    capture = parts.get("ddb capture buffer", "")
    if not dump.backtrace.frames:
        dump.backtrace = ddb.panicking_backtrace(capture) or dump.msgbuf.backtrace or Backtrace()
    dump.panic = found.get("panic")
    dump.hostname = found.get("hostname")
    uname = found.get("uname", "").split()
    if len(uname) >= 4:  # "FreeBSD <host> <osrelease> <version...> <machine>"
        dump.version = " ".join(uname[3:-1]) or None
        dump.machine = uname[-1]
    ps = parts.get("ps -axlww", "")
    rows = [line for line in ps.splitlines()[1:] if line.strip()]
    dump.processes = max(0, len(rows) - 1) if rows else None  # minus the column titles
    if pcpu := ddb.show_pcpu(capture):
        dump.curthread_pid, dump.curthread_tid, dump.curthread_name = pcpu
    return dump


def _textdump(texts: Mapping[str, str]) -> KernelDump:
    dump = KernelDump(source="textdump")
    capture = texts.get("ddb.txt", "")
    dump.msgbuf = ddb.parse_msgbuf(texts.get("msgbuf.txt", ""))
    dump.backtrace = ddb.panicking_backtrace(capture) or dump.msgbuf.backtrace or Backtrace()
    if pcpu := ddb.show_pcpu(capture):
        dump.curthread_pid, dump.curthread_tid, dump.curthread_name = pcpu
    dump.processes = ddb.ps_count(capture)
    return dump
