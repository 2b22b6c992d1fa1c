"""Annotations: the frame, register and variables a reader should look at first.

Each annotation names where it points (thread, frame, register or variable) and says why in
one sentence. Variables are matched by value: one that holds the faulting address (or the
register the address was formed from), one that points into a freed heap chunk, one that points
outside every mapping. With a drgn program at hand, struct members one level down are searched
too, so the annotation can say "`n->next` is NULL". Only the program's own frames are searched
(roles.py): the locals of glibc's ``_int_free`` or ``__assert_fail_base`` point into freed chunks
as a matter of course, and are not where a reader should look.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from coresnap.analysis.blame import find_blame
from coresnap.analysis.context import DRGN_ERRORS, NULL_PAGE_LIMIT, Context
from coresnap.analysis.fingerprint import UNKNOWN, family, frame_name, is_noise
from coresnap.analysis.heap import free_chunks, heap_state
from coresnap.analysis.roles import Role, role

_NO_FRAME: tuple[type[Exception], ...] = (AttributeError, *DRGN_ERRORS)

MAX_MEMBERS = 64


def _bad_values(classification: dict[str, Any], ctx: Context) -> dict[int, str]:
    """Value -> what it is: the fault address and the register value that formed it."""
    bad: dict[int, str] = {}
    # SI_KERNEL (a general protection fault) comes with address 0: the kernel reports none.
    if ctx.fault_address is not None and ctx.signo in (7, 11) and ctx.si_code != 0x80:
        bad[ctx.fault_address] = "the faulting address"
    for e in classification.get("evidence", []):
        value = e.get("facts", {}).get("base_value")
        if isinstance(value, str) and value.startswith("0x"):
            bad.setdefault(int(value, 16), f"the value of {e['facts'].get('base_register')}")
    return bad


def _describe(value: int) -> str:
    return "NULL" if value == 0 else f"{value:#x}"


def _vars(frame: dict[str, Any]) -> Iterator[tuple[str, Any, str]]:
    for var in frame.get("variables") or []:
        if not isinstance(var, dict):
            continue
        name, value, type_ = str(var.get("name")), var.get("value"), str(var.get("type") or "")
        yield name, value, type_
        if isinstance(value, list):  # an array: its elements, bounded
            element_type = type_.split("[", 1)[0]
            for i, inner in enumerate(value[:MAX_MEMBERS]):
                yield f"{name}[{i}]", inner, element_type
        if isinstance(value, dict):  # a struct printed as members
            for member, inner in value.items():
                yield f"{name}.{member}", inner, ""
        deref = var.get("deref")
        if isinstance(deref, dict):  # the snapshot read the struct a pointer points to
            for member, inner in deref.items():
                yield f"{name}->{member}", inner, ""


def _source_line(frame: dict[str, Any]) -> str | None:
    source, line = frame.get("source"), frame.get("line")
    if not isinstance(source, dict) or not isinstance(line, int):
        return None
    lines, first = source.get("lines"), source.get("first_line")
    if (
        not isinstance(lines, list)
        or not isinstance(first, int)
        or not 0 <= line - first < len(lines)
    ):
        return None
    return str(lines[line - first])


def _dereferenced_here(path: str, frame: dict[str, Any]) -> bool:
    """Whether the crash line dereferences ``path``'s last member (``next->`` or ``next[``).

    A zero member of unknown type may be an int; the source line tells a NULL pointer apart.
    """
    text = _source_line(frame)
    member = path.replace("->", ".").rsplit(".", 1)[-1]
    return text is not None and any(f"{member}{op}" in text for op in ("->", "[", ")->"))


def _member_paths(ctx: Context, frame_index: int) -> Iterator[tuple[str, int]]:
    """``var->member`` pointer values of one level of structs, read through drgn."""
    try:
        frame = ctx.program.crashed_thread().stack_trace()[frame_index]
        names = list(frame.locals())
    except _NO_FRAME:  # no program, no such frame, or no unwinding here
        return
    for name in names:
        try:
            obj = frame[name]
            if obj.type_.kind.name != "POINTER" or not obj.value_():
                continue
            target = obj[0]
            members = getattr(target.type_, "members", None)
            for m in (members or [])[:MAX_MEMBERS]:
                if m.name and target.member_(m.name).type_.kind.name == "POINTER":
                    yield f"{name}->{m.name}", int(target.member_(m.name).value_())
        except DRGN_ERRORS:  # absent or unreadable objects are simply not annotated
            continue


def _free_ranges(ctx: Context) -> list[tuple[int, int, str]]:
    """Free heap chunks (an observation, so stored snapshots keep annotating them)."""

    def compute() -> list[list[Any]] | None:
        state = heap_state(ctx)
        return free_chunks(ctx, state) if state is not None else None

    found = ctx.observe("free_chunks", compute) or []
    return [
        (int(s), int(e), str(w)) for s, e, w in found if isinstance(s, int) and isinstance(e, int)
    ]


def _freed(value: int, ranges: list[tuple[int, int, str]]) -> str | None:
    return next((where for start, end, where in ranges if start <= value < end), None)


def _crash_site(snapshot: dict[str, Any], frames: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The frame the fingerprint blames (the first frame of the program's own code, see
    ``blame.py``); else the first named frame that is not noise. Only a frame of the crashed
    thread's own list is named (a caller read from the stack is not one of them)."""
    fam, _ = family(snapshot)
    blamed = find_blame(snapshot, stack_overflow=fam == "stack-overflow").frame
    if blamed is not None and blamed in frames:
        return blamed
    return next(
        (f for f in frames if frame_name(f) not in (UNKNOWN,) and not is_noise(frame_name(f))), None
    )


def annotate(ctx: Context, classification: dict[str, Any]) -> list[dict[str, Any]]:
    """Annotations for the crashed thread, most important first."""
    thread = ctx.crashed_thread
    if thread is None:
        return []
    tid, out = thread.get("tid"), []
    frames = ctx.frames
    site = _crash_site(ctx.snapshot, frames)
    if site is not None:
        where = f" ({site.get('file')}:{site.get('line')})" if site.get("file") else ""
        out.append(
            {
                "kind": "frame",
                "thread": tid,
                "frame": site.get("index"),
                "text": f"crash site: {frame_name(site)}{where}",
            }
        )
    for e in classification.get("evidence", []):
        facts = e.get("facts", {})
        if facts.get("base_register"):
            out.append(
                {
                    "kind": "register",
                    "thread": tid,
                    "frame": 0,
                    "name": facts["base_register"],
                    "value": facts.get("base_value"),
                    "text": f"{facts['base_register']} = {facts.get('base_value')} formed the faulting address ({e['label']})",
                }
            )
            break
    out += _stale_pointers(classification, tid)
    out += _variable_annotations(ctx, classification, tid)
    return out


def _stale_pointers(classification: dict[str, Any], tid: Any) -> list[dict[str, Any]]:
    """The variables a call through a reused or freed chunk went through (rules_reuse)."""
    out = []
    for e in classification.get("evidence", []):
        facts = e.get("facts", {})
        stale, chunk = facts.get("stale_pointer"), facts.get("chunk")
        if e.get("label") != "use-after-free" or not isinstance(stale, dict) or not chunk:
            continue
        owners = ", ".join(f"`{o['variable']}` ({o['type']})" for o in facts.get("new_owner", []))
        now = f"in use again by {owners}" if owners else chunk["state"]
        now = now if chunk["state"] == "in use" else f"free ({chunk['state']})"
        out.append(
            {
                "kind": "variable",
                "thread": tid,
                "frame": stale.get("frame"),
                "name": stale.get("variable"),
                "value": stale.get("value"),
                "text": f"`{stale.get('variable')}` is a stale pointer: its chunk {chunk['address']}"
                f" is {now}; the call loaded {facts.get('loaded_value_is')} from it",
            }
        )
    return out


def _variable_annotations(ctx: Context, classification: dict[str, Any], tid: Any) -> list[dict]:
    bad, freed, out = _bad_values(classification, ctx), _free_ranges(ctx), []
    process = ctx.snapshot.get("process")
    exe = process.get("exe") if isinstance(process, dict) else None
    program = exe if isinstance(exe, str) and exe else None
    for frame in ctx.frames:
        if role(frame, program).role is not Role.OWN:
            continue
        index = frame.get("index")
        found = [(n, v, t) for n, v, t in _vars(frame)]
        if ctx.program is not None and isinstance(index, int):
            found += [(n, v, "*") for n, v in _member_paths(ctx, index)]
        for name, value, type_ in found:
            if not isinstance(value, int) or isinstance(value, bool):
                continue
            text = None
            untyped_zero = value == 0 and "*" not in type_ and not _dereferenced_here(name, frame)
            if value in bad and not untyped_zero:
                text = f"`{name}` is {_describe(value)}: {bad[value]}"
            elif value >= NULL_PAGE_LIMIT and _freed(value, freed):
                text = f"`{name}` points into a freed chunk ({_freed(value, freed)})"
            elif "*" in type_ and value >= NULL_PAGE_LIMIT and ctx.mapping_at(value) is None:
                text = f"`{name}` = {value:#x} points outside any mapping"
            if text:
                out.append(
                    {
                        "kind": "variable",
                        "thread": tid,
                        "frame": index,
                        "name": name,
                        "value": f"{value:#x}",
                        "text": text,
                    }
                )
    return out
