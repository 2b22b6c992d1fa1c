"""Render a snapshot in the terminal (rich): what happened first, then how, then where.

Order: summary (signal, fault address, crashed thread; analysis slots: classification,
quality, annotations), the crashing frame with its source line and variables, every thread
(identical stacks folded: "12 threads: worker → sleep"), modules, system facts, what the
analysis cut. Needs nothing but the snapshot.
"""

from __future__ import annotations

import json
from collections import Counter, OrderedDict
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from coresnap.analysis.document import crashed_thread
from coresnap.snapshot.view_values import frame_line, hexa, render_value


def render(snap: dict[str, Any], *, thread: int | None = None, full: bool = False) -> Group:
    """The whole view as one rich renderable (``thread``: tid or index to show alone)."""
    parts: list[RenderableType] = [_summary(snap)]
    crashed = crashed_thread(snap)
    if crashed is not None and thread is None:
        parts.append(_crash_frame(crashed, kernel=bool(snap.get("kernel"))))
    if thread is not None:
        parts.append(_one_thread(snap, thread))
    else:
        parts.append(_threads(snap, full))
    parts.extend([_modules(snap, full), _system(snap), _analysis(snap)])
    return Group(*parts)


def show(snap: dict[str, Any], console: Console, **kw: Any) -> None:
    console.print(render(snap, **kw))


def _summary(snap: dict[str, Any]) -> Panel:
    p, sig = snap["process"], snap["signal"]
    text = Text()
    app = snap["attributes"].get("application") or p.get("exe") or "?"
    text.append(f"{app}", style="bold")
    text.append(f"  pid {p.get('pid')}  ")
    kernel = snap.get("kernel")
    if kernel:  # a kernel dump: the panic is what the reader needs first
        text.append(f"kernel panic: {kernel.get('panic') or '?'}", style="bold red")
        facts = [kernel.get("version"), _uptime(kernel.get("uptime"))]
        text.append("\n" + "  ".join(f for f in facts if f), style="dim")
    if sig:
        code = f" ({sig['code_name']})" if sig.get("code_name") else ""
        text.append(f"{sig['name']}{code}", style="bold red")
        if sig.get("address") is not None:
            text.append(f" at {hexa(sig['address'])}", style="red")
        if sig.get("sender_pid") is not None:
            text.append(f"  sent by pid {sig['sender_pid']} uid {sig.get('sender_uid')}")
    text.append(f"\ncrashed thread: {snap['crashed_thread']}   threads: {len(snap['threads'])}")
    if p.get("cmdline"):
        text.append(f"\ncmdline: {' '.join(p['cmdline'])[:200]}")
    privacy = _privacy(snap.get("privacy"))
    if privacy:
        text.append("\n" + privacy, style="dim")
    for line in _analysis_slots(snap):
        text.append("\n" + line, style="yellow")
    return Panel(text, title=f"snapshot {snap['uuid']}", title_align="left")


def _analysis_slots(snap: dict[str, Any]) -> list[str]:
    lines = []
    cls = snap.get("classification")
    if cls and cls.get("labels"):
        lines.append(f"classification: {', '.join(cls['labels'])}")
    q = snap.get("quality")
    if q:
        lines.append(f"quality: {q.get('score')}/100 {'; '.join(q.get('reasons', [])[:3])}")
    fp = snap.get("fingerprint")
    if fp:
        lines.append(f"fingerprint: {fp.get('hash', '')[:16]}")
    for a in (snap.get("annotations") or [])[:8]:
        said = (a.get("text") or a.get("message")) if isinstance(a, dict) else None
        lines.append(f"note: {said or json.dumps(a)[:160]}")
    return lines


def _privacy(record: Any) -> str | None:
    """``privacy: 5 values scrubbed on the host (argv 2, values 3)``, from the record."""
    if not isinstance(record, dict) or not isinstance(record.get("scrubbed"), list):
        return None
    by = Counter(str(r.get("scrubber")) for r in record["scrubbed"] if isinstance(r, dict))
    more = record.get("more")
    more = more if isinstance(more, int) else 0
    total = sum(by.values()) + more
    if not record.get("scrubbers"):
        return "privacy: no scrubber was on"
    if not total:
        return f"privacy: nothing to scrub ({', '.join(map(str, record['scrubbers']))})"
    parts = ", ".join(f"{name} {n}" for name, n in by.most_common())
    return f"privacy: {total} values scrubbed on the host ({parts}); <scrubbed> marks them"


def _first_meaningful(frames: list[dict[str, Any]], kernel: bool) -> dict[str, Any]:
    """The frame to show first: in a kernel dump, the first one past the panic and trap
    machinery (the fingerprint's noise rules); else the first with a source file."""
    if kernel:
        from coresnap.analysis.fingerprint import frame_name, is_noise

        useful = [f for f in frames if not is_noise(frame_name(f), kernel=True)]
        return next((f for f in useful if f.get("file")), useful[0] if useful else frames[0])
    return next((f for f in frames if f.get("file")), frames[0])


def _uptime(seconds: Any) -> str | None:
    if not isinstance(seconds, (int, float)):
        return None
    days, rest = divmod(int(seconds), 86400)
    return (
        f"up {days}d {rest // 3600}h{rest % 3600 // 60:02d}m"
        if days
        else (f"up {rest // 3600}h{rest % 3600 // 60:02d}m")
    )


def _crash_frame(thread: dict[str, Any], kernel: bool = False) -> RenderableType:
    frames = thread["frames"]
    if not frames:
        return Text(f"thread {thread['tid']}: no frames ({thread.get('frames_cut')})")
    frame = _first_meaningful(frames, kernel)
    parts: list[RenderableType] = [Text(frame_line(frame), style="bold")]
    src = frame.get("source")
    if src:
        for n, line in enumerate(src["lines"], src["first_line"]):
            mark = "→" if n == frame["line"] else " "
            parts.append(Text(f" {mark}{n:5} {line}", style="bold" if mark == "→" else "dim"))
    if frame["variables"]:
        parts.append(_variables(frame["variables"]))
    return Panel(Group(*parts), title="crashing frame", title_align="left")


def _variables(variables: list[dict[str, Any]]) -> Table:
    table = Table(show_header=True, header_style="dim", box=None, pad_edge=False)
    for col in ("", "name", "type", "value"):
        table.add_column(col, overflow="fold")
    for v in variables:
        kind = "p" if v["kind"] == "param" else ""
        table.add_row(kind, Text(v["name"]), Text(v.get("type") or ""), Text(render_value(v)))
    return table


def _frames(thread: dict[str, Any], full: bool, limit: int) -> list[RenderableType]:
    out: list[RenderableType] = []
    frames = thread["frames"] if full else thread["frames"][:limit]
    for f in frames:
        out.append(Text(frame_line(f), style="" if f["trusted"] else "dim"))
        if full and f["variables"]:
            out.append(_variables(f["variables"]))
    hidden = len(thread["frames"]) - len(frames)
    if hidden > 0:
        out.append(Text(f"  … {hidden} more frames (--full)", style="dim"))
    if thread.get("frames_cut"):
        out.append(Text(f"  [{thread['frames_cut']}]", style="dim"))
    return out


def _threads(snap: dict[str, Any], full: bool) -> RenderableType:
    groups: OrderedDict[tuple[str, ...], list[dict[str, Any]]] = OrderedDict()
    for t in sorted(snap["threads"], key=lambda t: not t["crashed"]):
        key = tuple(f["function"] or "??" for f in t["frames"])
        groups.setdefault(("crashed", str(t["tid"])) if t["crashed"] else key, []).append(t)
    parts: list[RenderableType] = []
    for members in groups.values():
        first = members[0]
        names = [f["function"] or "??" for f in reversed(first["frames"])]
        path = " → ".join(_useful(names)) or "(no frames)"
        if first["crashed"]:
            title = f"thread {first['tid']} {first.get('name') or ''} (crashed)"
        elif len(members) == 1:
            title = f"thread {first['tid']} {first.get('name') or ''}"
        else:
            title = f"{len(members)} threads: {path}"
        parts.append(Text(title, style="bold red" if first["crashed"] else "bold"))
        if len(members) > 1:
            tids = ", ".join(str(t["tid"]) for t in members[:16])
            more = f" … (+{len(members) - 16})" if len(members) > 16 else ""
            parts.append(Text(f"  tids {tids}{more}", style="dim"))
        parts.extend(_frames(first, full, 64 if first["crashed"] else 16))
    return Panel(Group(*parts), title="threads", title_align="left")


def _useful(names: list[str]) -> list[str]:
    """Outermost first, thread plumbing dropped; long paths keep both ends ("a → b → … → z")."""
    noise = {"_start", "__libc_start_main_impl", "__libc_start_call_main", "start_thread"}
    kept = [n for n in names if n not in noise and not n.lstrip("_").startswith("clone")]
    return [*kept[:2], "…", kept[-1]] if len(kept) > 4 else kept


def _one_thread(snap: dict[str, Any], which: int) -> RenderableType:
    threads = snap["threads"]
    t = next((t for t in threads if t["tid"] == which), None)
    if t is None and 0 <= which < len(threads):
        t = threads[which]
    if t is None:
        return Text(f"no thread {which} (tids: {[t['tid'] for t in threads][:20]})", style="red")
    regs = "  ".join(f"{k}={hexa(v)}" for k, v in list(t["registers"].items())[:24])
    body = [Text(regs, style="dim"), *_frames(t, True, 0)]
    return Panel(Group(*body), title=f"thread {t['tid']} {t.get('name') or ''}", title_align="left")


def _modules(snap: dict[str, Any], full: bool) -> RenderableType:
    table = Table(title="modules", title_justify="left", box=None, header_style="dim")
    for col in ("start", "path", "build id", "debug info"):
        table.add_column(col, overflow="fold")
    for m in snap["modules"]:
        debug = m.get("debug_info") or "missing"
        if m.get("build_id_mismatch"):
            debug = f"MISMATCH: file on disk is {m.get('file_build_id') or '?'}"
        bid = m.get("build_id") or ""
        table.add_row(hexa(m["start"]), Text(m["path"]), bid if full else bid[:16], Text(debug))
    return table


def _system(snap: dict[str, Any]) -> RenderableType:
    s = snap["system"]
    k = s.get("kernel") or {}
    os_name = (s.get("os_release") or {}).get("PRETTY_NAME")
    rows = [
        ("host", s.get("hostname")),
        (
            "kernel",
            " ".join(x for x in (k.get("sysname"), k.get("release"), k.get("machine")) if x),
        ),
        ("os", os_name),
        ("boot id", s.get("boot_id")),
        ("uptime", _uptime(s.get("uptime"))),
        ("load", " ".join(str(x) for x in s.get("loadavg") or []) or None),
        ("memory", _memory(s.get("meminfo") or {})),
        ("facts from", s.get("source")),
    ]
    text = "\n".join(f"{k:>10}: {v}" for k, v in rows if v)
    return Panel(Text(text or "(no system facts)"), title="system", title_align="left")


def _memory(meminfo: dict[str, int]) -> str | None:
    total, avail = meminfo.get("MemTotal"), meminfo.get("MemAvailable")
    if not total:
        return None
    return f"{(avail or 0) >> 20} MiB available of {total >> 20} MiB"


def _analysis(snap: dict[str, Any]) -> RenderableType:
    a = snap["analysis"]
    text = Text(f"engine {a['engine']}, {a['duration_ms']:.0f} ms, coresnap {a['tool_version']}")
    if a.get("fallback_reason"):
        text.append(f"\nfallback: {a['fallback_reason']}", style="yellow")
    for cut in a.get("cuts", [])[:12]:
        text.append(f"\ncut: {cut}", style="dim")
    for w in a.get("warnings", [])[:8]:
        text.append(f"\nwarning: {w}", style="dim")
    return Panel(text, title="analysis", title_align="left")
