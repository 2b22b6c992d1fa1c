"""How far a snapshot can be trusted: a 0-100 score with the reasons for every point lost."""

from __future__ import annotations

from typing import Any

from coresnap.analysis.document import crashed_thread
from coresnap.analysis.fingerprint import frame_name, is_noise

TOP = 3
# Where a complete stack ends: the C runtime's entry points, and Go's (every goroutine returns
# to runtime.goexit, runtime/proc.go newproc1; an OS thread's g0 stack starts in runtime.clone
# or runtime.mstart, the main thread's in runtime.rt0_go).
CLEAN_ENDS = {
    *("_start", "clone", "clone3", "start_thread", "__clone", "__clone3", "thread_start"),
    *("runtime.goexit", "runtime.clone", "runtime.mstart", "runtime.rt0_go"),
}


def _executable(snapshot: dict[str, Any]) -> list[tuple[int, int]]:
    """[start, end) of the mappings that can hold code (the memory map's ``x`` ones, and the
    ``???`` ones of cores that do not say)."""
    out = []
    for m in snapshot.get("memory_map") or []:
        perms = str(m.get("perms", "")) if isinstance(m, dict) else ""
        if "x" in perms or "?" in perms:
            start, end = m.get("start"), m.get("end")
            if isinstance(start, int) and isinstance(end, int):
                out.append((start, end))
    return out


def _garbage(frames: list[dict[str, Any]], code: list[tuple[int, int]]) -> int:
    """Unwound frames whose pc cannot be code: zero, or outside every executable mapping (what
    an unwinder reads past the real stack). The first frame's pc is the thread's own register
    (a bad jump's is wrong but true). A named frame at pc 0 is a kernel snapshot's frame whose
    text gave no address, not garbage; without a memory map only zero is known bad."""
    physical = [f for f in frames if not f.get("inline")][1:]
    return sum(1 for f in physical if _not_code(f, code))


def _not_code(frame: dict[str, Any], code: list[tuple[int, int]]) -> bool:
    pc = frame.get("pc")
    if not isinstance(pc, int):
        return False
    if pc == 0:
        return not frame.get("function")
    return bool(code) and not any(a <= pc < b for a, b in code)


def _frames_penalties(
    frames: list[dict[str, Any]], cut: str | None, code: list[tuple[int, int]]
) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    named = sum(1 for f in frames if f.get("function"))
    if named < len(frames):
        lost = round(30 * (1 - named / len(frames)))
        out.append((lost, f"{named} of {len(frames)} frames symbolised"))
    top = [f for f in frames if f.get("function") and not is_noise(frame_name(f))][:TOP]
    no_lines = sum(1 for f in top if not f.get("line"))
    if no_lines:
        out.append((5 * no_lines, f"{no_lines} of the top {len(top)} frames lack source lines"))
    if top and not any(f.get("variables") for f in top):
        out.append((10, "no variables in the top frames"))
    guesses = sum(1 for f in frames if f.get("trusted") is False)
    if guesses:
        out.append((min(15, 5 * guesses), f"{guesses} frames are unwinder guesses"))
    garbage = _garbage(frames, code)
    if garbage:
        out.append(
            (min(20, 5 * garbage), f"{garbage} frames have a pc that is not code (0x0 or garbage)")
        )
    last = frame_name(frames[-1])
    if cut is not None:
        out.append((5, f"frames cut by the snapshot's bounds ({cut})"))
    elif last not in CLEAN_ENDS:
        out.append((10, f"unwinding stopped at {last}, not at a thread entry"))
    return out


def _frames_cut(cuts: list[Any], tid: object) -> str | None:
    """The snapshot builder's note that it kept only some of this thread's frames."""
    prefix = f"thread {tid}: frames: "
    return next((str(c)[len(prefix) :] for c in cuts if str(c).startswith(prefix)), None)


def score(snapshot: dict[str, Any]) -> dict[str, Any]:
    """``{"score": 0-100, "reasons": [...]}``; each reason says what cost points and how many."""
    penalties: list[tuple[int, str]] = []
    found = snapshot.get("analysis")
    analysis: dict[str, Any] = found if isinstance(found, dict) else {}
    cuts: list[Any] = analysis["cuts"] if isinstance(analysis.get("cuts"), list) else []
    thread = crashed_thread(snapshot)
    frames = [f for f in (thread or {}).get("frames") or [] if isinstance(f, dict)]
    if thread is None:
        penalties.append((40, "the crashed thread is not known"))
    elif not frames:
        penalties.append((50, "the crashed thread has no frames"))
    else:
        cut = _frames_cut(cuts, thread.get("tid"))
        penalties += _frames_penalties(frames, cut, _executable(snapshot))
    if analysis.get("core_truncated") or any("truncat" in str(c) for c in cuts):
        penalties.append((20, "the core is truncated"))
    modules = [m for m in snapshot.get("modules") or [] if isinstance(m, dict)]
    mismatched = [m.get("path") for m in modules if m.get("build_id_mismatch")]
    if mismatched:
        penalties.append(
            (min(30, 15 * len(mismatched)), f"build id mismatch: {', '.join(map(str, mismatched))}")
        )
    total = max(0, 100 - sum(p for p, _ in penalties))
    reasons = [f"-{p}: {why}" for p, why in penalties if p] or ["complete: nothing lost"]
    return {"score": total, "reasons": reasons}
