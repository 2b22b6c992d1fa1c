"""``coresnap inspect CORE``: what the core reader finds in a core file.

Human output by default; ``--json`` prints the stable document described in docs/inspect.md.
Malformed or unreadable cores raise CoresnapError, which the CLI turns into exit code 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from coresnap.cli.commands import Command
from coresnap.corefile import open_core
from coresnap.corefile.summary import summarize

_MAX_MAPPINGS = 60  # human output: beyond this, mappings are summarized (--json has all)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("core", help="the core file")
    parser.add_argument("--json", action="store_true", help="print the JSON document")
    parser.add_argument("--sysroot", help="read mapped files under this directory")
    parser.add_argument("--registers", action="store_true", help="show every thread's registers")


def run(args: argparse.Namespace) -> int:
    with open_core(args.core, sysroot=args.sysroot) as core:
        doc = summarize(core, registers=args.json or args.registers)
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        render(doc, sys.stdout, registers=args.registers)
    return 0


def _signal_line(s: dict[str, Any]) -> str:
    text = f"{s['name']} ({s['signo']})"
    if s["code_name"] or s["code"] is not None:
        text += f", {s['code_name'] or 'code'} ({s['code']})"
    if s["addr"] is not None:
        text += f", fault address {s['addr']}"
    if s["sender_pid"] is not None:
        text += f", sent by pid {s['sender_pid']} uid {s['sender_uid']}"
    if s["source"] == "cursig":
        text += " (from pr_cursig only)"
    return text


def _thread_lines(t: dict[str, Any], registers: bool) -> list[str]:
    mark = "*" if t["crashed"] else " "
    name = f" {t['name']!r}" if t["name"] else ""
    sig = f" signal {t['signal']}" if t["signal"] else ""
    lines = [f" {mark} tid {t['tid']}{name}  pc {t['pc'] or '?'}  sp {t['sp'] or '?'}{sig}"]
    if registers and t.get("registers"):
        regs = list(t["registers"].items())
        for i in range(0, len(regs), 4):
            lines.append("      " + "  ".join(f"{k:>8} {v:>18}" for k, v in regs[i : i + 4]))
    return lines


def render(doc: dict[str, Any], out: TextIO, *, registers: bool = False) -> None:
    """Write the human-readable report of ``doc`` (a :func:`summarize` document) to ``out``."""
    c, p = doc["core"], doc["process"]
    w = out.write
    w(f"core      {c['path']} ({c['size']} bytes, {c['os']} {c['arch']}, "
      f"{c['segments']} segments, {c['notes']} notes)\n")  # fmt: skip
    w(f"process   pid {p['pid']}  uid {p['uid']}  exe {p['exe'] or p['fname'] or '?'}\n")
    if p["cmdline"]:
        w(f"cmdline   {p['cmdline']}\n")
    w(f"signal    {_signal_line(doc['signal']) if doc['signal'] else 'none recorded'}\n")
    for seg in c["truncated"]:
        w(f"WARNING   truncated core: segment {seg['vaddr']} has {seg['available']} of "
          f"{seg['p_filesz']} bytes\n")  # fmt: skip
    for warning in c["warnings"]:
        w(f"warning   {warning}\n")
    w(f"\nthreads ({len(doc['threads'])}, * = crashed)\n")
    for t in doc["threads"]:
        w("\n".join(_thread_lines(t, registers)) + "\n")
    w(f"\nmodules ({len(doc['modules'])})\n")
    for m in doc["modules"]:
        exe = " [exe]" if m["is_executable"] else ""
        bid = m["build_id"] or "no build id"
        src = f" ({m['build_id_source']})" if m["build_id_source"] else ""
        w(f"  {m['start']:>18}  {bid}{src}  {m['path']}{exe}\n")
        if m["file_build_id"]:
            w(f"  {'':>18}  MISMATCH: the file on disk has build id {m['file_build_id']}\n")
    maps = doc["mappings"]
    w(f"\nmappings ({len(maps)}, c = dumped in the core)\n")
    for m in maps[:_MAX_MAPPINGS]:
        dumped = "c" if m["in_core"] else "-"
        w(f"  {m['start']:>18}-{m['end']:<18} {m['perms']} {dumped} "
          f"{m['file_offset']:>10}  {m['path'] or m['label'] or ''}\n")  # fmt: skip
    if len(maps) > _MAX_MAPPINGS:
        w(f"  ... {len(maps) - _MAX_MAPPINGS} more (see --json)\n")


COMMAND = Command("inspect", "Show what a core file holds.", configure, run)
