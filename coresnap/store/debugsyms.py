"""Name a stripped build's frames from its uploaded debug file (``debugfiles.py``).

At ingest and at regroup, before fingerprinting, the crashed thread's frames that have a build
id and a module offset but no name, whose pc no snapshot taught (``symbols.py``) and whose build
has a debug file, are looked up in that file: function, source line and the inlined calls at the
pc, innermost first, spelled as the snapshot engines spell them (the DWARF reader of the
fallback unwinder, ``coresnap.unwind``; C++ names from their demangled linkage names, parameters
dropped), so a filled frame equals the one the unstripped build's snapshot has. What is found
is kept as learned pcs (a pc the file names nothing at with no frames): each pc of a build is
looked up once.

A caller's pc is a return address: it is looked up one byte before (gdb's and drgn's rule);
the innermost frame and a frame interrupted by a signal are looked up at their pc.

The lookup runs in a child process (``python -m coresnap.store.debugsyms``, JSON in and out)
bounded by :data:`TIMEOUT` seconds and :data:`MEMORY` bytes: a hostile debug file costs its
frames their names, never the upload (the failure is logged and the crash grouped unnamed).
"""

from __future__ import annotations

import json
import logging
import posixpath
import resource
import subprocess
import sys
from typing import Any

from sqlalchemy import Connection

from coresnap.analysis import document
from coresnap.store import debugfiles, symbols
from coresnap.store.blobs import BlobStore
from coresnap.unwind.names import text

TIMEOUT = 30.0
MEMORY = 2 << 30
log = logging.getLogger("coronerd")
Wanted = dict[str, dict[int, bool]]  # build id -> module offset -> looked up at the pc itself


def wanted(doc: dict[str, Any], known: symbols.Symbols) -> Wanted:
    """The nameless crashed-thread pcs of ``doc`` (and its bad jump's nameless caller, see
    ``symbols.callers``) that ``known`` has no frames for."""
    out: Wanted = {}
    exact = True  # the innermost frame's pc is where it stopped, not a return address
    for frame in document.crashed_frames(doc)[: symbols.MAX_FRAMES]:
        if frame.get("inline"):
            continue
        build, offset = frame.get("build_id"), frame.get("module_offset")
        placed = isinstance(build, str) and debugfiles.BUILD_ID.match(build)
        if placed and isinstance(offset, int) and not isinstance(offset, bool) and offset >= 0:
            assert isinstance(build, str)
            if not symbols.named(frame) and (build, offset) not in known.pcs:
                out.setdefault(build, {})[offset] = exact
        exact = bool(frame.get("signal_frame"))  # the frame a signal interrupted
    for _, place in symbols.callers(doc):  # a bad jump's caller: a return address
        if place not in known.pcs:
            out.setdefault(place[0], {}).setdefault(place[1], False)
    return out


def lookup(
    conn: Connection,
    blobs: BlobStore,
    project_id: int,
    doc: dict[str, Any],
    known: symbols.Symbols,
) -> symbols.Symbols:
    """Frames from debug files for ``doc``'s nameless pcs that ``known`` lacks (new facts, to be
    learned). Never raises: a failing lookup is logged and finds nothing."""
    found = symbols.Symbols()
    pcs = wanted(doc, known)
    if not pcs:
        return found
    try:
        files = debugfiles.keys(conn, project_id, pcs)
    except Exception:  # the upload is stored whatever happens here
        log.warning("debug files of %s: lookup failed", sorted(pcs), exc_info=True)
        return found
    for build, key in sorted(files.items()):
        try:
            with debugfiles.local_file(blobs, key) as path:
                if path is None:
                    continue  # the row's blob is gone: nothing to learn, try again next time
                chains = resolve(str(path), pcs[build])
        except Exception:
            log.warning("debug file %s: symbolisation failed", key, exc_info=True)
            continue
        for offset in pcs[build]:
            # A pc the file names nothing at is kept too, with no frames: looked up once as well.
            found.pcs[(build, offset)] = chains.get(offset, [])
    return found


def resolve(path: str, pcs: dict[int, bool]) -> dict[int, list[dict[str, Any]]]:
    """The frames at each module offset of ``pcs`` in the ELF file ``path`` (offsets it names
    nothing at are left out), looked up in a bounded child process.

    Raises subprocess.TimeoutExpired, or RuntimeError when the child fails.
    """
    request = json.dumps({"path": path, "pcs": sorted(pcs.items())})
    done = subprocess.run(
        [sys.executable, "-m", "coresnap.store.debugsyms"],
        input=request,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"debugsyms exited {done.returncode}: {done.stderr[-500:]}")
    answer = json.loads(done.stdout)
    return {int(k): _bounded(v) for k, v in answer.items() if v}


def _bounded(chain: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for frame in chain[: symbols.MAX_CHAIN]:
        record: dict[str, Any] = {k: frame.get(k) for k in symbols.PC_FIELDS}
        for k in ("function", "file"):
            value = record[k]
            if isinstance(value, str):
                record[k] = value[: symbols.MAX_TEXT]
        out.append(record)
    return out


def frames_at(path: str, pcs: list[tuple[int, bool]]) -> dict[int, list[dict[str, Any]]]:
    """(In the child) the frames at each (module offset, exact) of ``pcs`` in ``path``,
    innermost first, with the fields of ``symbols.PC_FIELDS``."""
    from coresnap.analysis.demangle import demangle_all, last_component
    from coresnap.unwind.objfile import open_object

    obj = open_object(path)
    base = obj.link_base
    out: dict[int, list[dict[str, Any]]] = {}
    linkage: list[tuple[dict[str, Any], str]] = []
    for offset, exact in pcs:
        link_pc = base + offset
        chain = _chain(obj, link_pc if exact else link_pc - 1, link_pc, linkage)
        if chain:
            out[offset] = chain
    names = demangle_all([mangled for _, mangled in linkage])
    for record, mangled in linkage:
        full = names.get(mangled)
        plain = record["function"]
        # The corefile engine's rule: the demangled linkage name, when it names the same function.
        if full and (
            not plain or plain == mangled or last_component(full) == last_component(plain)
        ):
            record["function"] = full
    return out


def _chain(
    obj: Any, link: int, link_pc: int, linkage: list[tuple[dict[str, Any], str]]
) -> list[dict[str, Any]]:
    """The frames at link-time address ``link`` (the looked-up byte; ``link_pc`` the pc)."""
    symbol = obj.symbols.lookup(link)
    start = symbol[0].start if symbol is not None else None
    debug = obj.debug
    scopes = debug.scopes(link) if debug is not None else []
    line = debug.line(link) if debug is not None else None
    unit_dir = _unit_dir(debug, link)
    where = _where(line, unit_dir)
    if not scopes:
        if symbol is None:
            return []
        name = symbol[0].name
        record = _record(name, link_pc - symbol[0].start, where, False)
        if name.startswith(("_Z", "_R")):
            linkage.append((record, name))
        return [record]
    frames = []
    for scope in reversed(scopes):
        offset = None if scope.inlined else link_pc - (start if start is not None else scope.start)
        record = _record(scope.name, offset, where, scope.inlined)
        if scope.linkage_name:
            linkage.append((record, scope.linkage_name))
        where = _where(scope.call_site, unit_dir)
        frames.append(record)
    return frames


def _unit_dir(debug: Any, link: int) -> str | None:
    """The compilation directory of the unit holding ``link`` (DW_AT_comp_dir)."""
    found = debug.function_at(link) if debug is not None else None
    if found is None:
        return None
    attr = found[1].cu.get_top_DIE().attributes.get("DW_AT_comp_dir")
    return text(attr.value) if attr is not None else None


def _where(line: Any, unit_dir: str | None) -> tuple[Any, Any, Any]:
    """(file, line, column) of a line row or call site. A bare file name is in the unit's
    directory (DWARF 5 directory 0), which drgn joins in: so does this, to name files alike."""
    if line is None:
        return None, None, None
    name = line.file
    if isinstance(name, str) and unit_dir and "/" not in name:
        name = posixpath.join(unit_dir, name)
    return name, line.line, line.column


def _record(
    name: str | None, offset: int | None, where: tuple[Any, Any, Any], inline: bool
) -> dict[str, Any]:
    return {
        "function": name,
        "function_offset": offset,
        "file": where[0],
        "line": where[1] or None,
        "column": where[2] or None,
        "inline": inline,
    }


def main() -> int:
    """The child: a JSON request on stdin, the frames as JSON on stdout."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    request = json.load(sys.stdin)
    pcs = [(int(offset), bool(exact)) for offset, exact in request["pcs"]]
    found = frames_at(str(request["path"]), pcs)
    json.dump({str(k): v for k, v in found.items()}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
