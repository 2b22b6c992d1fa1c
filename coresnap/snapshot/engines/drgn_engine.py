"""The drgn engine: every thread unwound with DWARF CFI, inline frames, source lines, variables.

Debug info comes from the binaries named by the core (or the executable given), from
``/usr/lib/debug`` (by build id and by debug link) and from debuginfod only when
``DEBUGINFOD_URLS`` is set. drgn's plugins are not loaded unless ``DRGN_PLUGINS`` names
some. drgn itself refuses a file whose build id differs from the core's;
this module also says so (``build_id_mismatch``) so that the snapshot shows why a module has no
symbols.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

# drgn indexes DWARF on OpenMP threads, one per CPU, that busy-wait between loops: on a host
# that is busy (something just crashed; the daemon snapshots in the background) that costs
# wall time and CPU (libc's debug info: 0.06 s of CPU on one thread, 0.09 s on two, and no
# faster). libgomp reads this once, when drgn is first loaded; a user's setting wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import drgn  # noqa: E402 - must come after OMP_NUM_THREADS is set

from coresnap.errors import SnapshotEngineError
from coresnap.snapshot.engines.drgn_inflate import debug_file_path, offer
from coresnap.snapshot.engines.drgn_memory import add_file_segments
from coresnap.snapshot.engines.result import EngineResult

if TYPE_CHECKING:
    from coresnap.snapshot.bounds import Bounds
    from coresnap.snapshot.engines.drgn_frames import FrameWalker


class Background:
    """``work`` running on a thread; :meth:`join` waits for it and raises what it raised."""

    def __init__(self, work: Callable[[], None], name: str) -> None:
        self._failed: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(work,), name=name)
        self._thread.start()

    def _run(self, work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as e:  # noqa: BLE001 - re-raised by join() in the caller's thread
            self._failed.append(e)

    def wait(self) -> None:
        self._thread.join()

    def join(self) -> None:
        self.wait()
        if self._failed:
            raise self._failed[0]


class DebugInfoLoad:
    """A drgn program for ``core`` whose debug info is being read on a thread.

    drgn releases the GIL while it reads and indexes debug info (libc's: ~0.06 s, mostly zlib),
    which is as long as importing the rest of the snapshot code: started first (``coresnap
    snapshot`` does, before its other imports), the two overlap on a host with a spare CPU.
    Nothing else touches the program until :meth:`program` has returned it.
    """

    def __init__(self, core: str, exe: str | None) -> None:
        logging.getLogger("drgn").setLevel(logging.CRITICAL)
        if "DRGN_PLUGINS" not in os.environ:
            # drgn scans every installed distribution's entry points for plugins when a program
            # is made (~0.1 s per snapshot); coresnap uses none unless DRGN_PLUGINS asks.
            os.environ.setdefault("DRGN_DISABLE_PLUGINS", "*")
        self.warnings: list[str] = []
        self._prog = drgn.Program()
        self._error: SnapshotEngineError | None = None
        self._loading: Background | None = None
        try:
            self._prog.set_core_dump(core)
        except (OSError, ValueError, drgn.BadDataError, NotImplementedError) as e:
            self._error = SnapshotEngineError("drgn", f"cannot open core: {e}")
            return
        self._loading = Background(
            lambda: _load_debug_info(self._prog, exe, self.warnings), "coresnap-drgn-debug-info"
        )

    def join(self) -> None:
        """Wait for the debug info (raises nothing: :meth:`program` does)."""
        if self._loading is not None:
            self._loading.wait()

    def program(self) -> drgn.Program:
        """The program, its debug info loaded.

        Raises:
            SnapshotEngineError: drgn cannot open the core.
            Exception: whatever drgn raised while loading debug info (beyond missing files).
        """
        if self._loading is not None:
            self._loading.join()
        if self._error is not None:
            raise self._error
        return self._prog


def run(
    core: str,
    exe: str | None,
    bounds: Bounds,
    mappings: list[dict[str, Any]],
    *,
    started: DebugInfoLoad | None = None,
    while_loading: Callable[[], object] | None = None,
) -> EngineResult:
    """Analyse ``core`` with drgn (``started``: its :class:`DebugInfoLoad`, if made earlier).

    ``while_loading`` runs (in this thread) while drgn reads debug info on another one; the
    caller's imports fit there.

    Raises:
        SnapshotEngineError: drgn cannot open the core or unwind any thread.
    """
    load = started if started is not None else DebugInfoLoad(core, exe)
    try:
        import coresnap.snapshot.engines.drgn_frames  # noqa: F401 - capstone: ~25 ms to import

        if while_loading is not None:
            while_loading()
    finally:
        load.join()
    prog = load.program()
    from coresnap.snapshot.engines.drgn_frames import FrameWalker

    warnings = load.warnings
    modules = [_module_record(m, exe, warnings) for m in _modules(prog)]
    untrusted = {m["path"] for m in modules if m["build_id_mismatch"]}
    add_file_segments(prog, mappings, exe, untrusted)
    walker = FrameWalker(prog, bounds, mappings, warnings)
    threads, crashed = _threads(prog, walker, bounds)
    walker.finish(threads)
    return EngineResult("drgn", threads, crashed, modules, walker.cuts, warnings)


def _load_debug_info(prog: drgn.Program, exe: str | None, warnings: list[str]) -> None:
    if not os.environ.get("DEBUGINFOD_URLS"):
        finders = [f for f in prog.enabled_debug_info_finders() if f != "debuginfod"]
        prog.set_enabled_debug_info_finders(finders)
    offer(prog)  # the warm worker's inflated debug files
    try:
        prog.load_debug_info([exe] if exe else [], default=True)
    except drgn.MissingDebugInfoError:
        pass  # per-module status is reported in the module records
    except (OSError, ValueError, drgn.BadDataError) as e:
        warnings.append(f"loading debug info failed: {e}")


def _modules(prog: drgn.Program) -> list[drgn.Module]:
    try:
        return list(prog.modules())
    except (ValueError, drgn.FaultError) as e:
        raise SnapshotEngineError("drgn", f"cannot list modules: {e}") from None


def _module_record(m: drgn.Module, exe: str | None, warnings: list[str]) -> dict[str, Any]:
    build_id = m.build_id.hex() if m.build_id else None
    ranges = m.address_ranges or []
    start = min((r[0] for r in ranges), default=0)
    end = max((r[1] for r in ranges), default=0)
    record: dict[str, Any] = {
        "path": m.name,
        "build_id": build_id,
        "start": start,
        "end": end,
        "load_bias": m.loaded_file_bias if m.loaded_file_path else None,
        "debug_info": _debug_source(m),
        "debug_file": debug_file_path(m),
        "build_id_mismatch": False,
    }
    from coresnap.corefile.buildid import file_build_id

    candidates = [exe] if exe and isinstance(m, drgn.MainModule) else []
    if m.loaded_file_status != drgn.ModuleFileStatus.HAVE or m.debug_file_path is None:
        candidates.append(m.name)
    for path in candidates:
        on_disk = file_build_id(path) if os.path.isfile(path) else None
        if build_id and on_disk and on_disk != build_id:
            record.update(build_id_mismatch=True, file_build_id=on_disk)
            warnings.append(
                f"{path}: build id {on_disk} differs from the core's {build_id}; not used"
            )
            break
    missing = m.loaded_file_status != drgn.ModuleFileStatus.HAVE and not isinstance(
        m, drgn.VdsoModule
    )
    if missing and not record["build_id_mismatch"] and not os.path.exists(m.name):
        warnings.append(
            f"{m.name}: file not found (deleted since the crash?): its frames cannot be unwound"
        )
    return record


def _debug_source(m: drgn.Module) -> str | None:
    debug = debug_file_path(m)
    if m.debug_file_status != drgn.ModuleFileStatus.HAVE or not debug:
        return None
    if debug == m.loaded_file_path:
        return "embedded"
    if "/.build-id/" in debug:
        return "build-id-dir"
    if "debuginfod" in debug:
        return "debuginfod"
    return "debuglink"


def _threads(
    prog: drgn.Program, walker: FrameWalker, bounds: Bounds
) -> tuple[list[dict[str, Any]], int | None]:
    try:
        threads = list(prog.threads())
    except (ValueError, drgn.FaultError) as e:
        raise SnapshotEngineError("drgn", f"cannot list threads: {e}") from None
    try:
        crashed: int | None = prog.crashed_thread().tid
    except (LookupError, ValueError, drgn.FaultError):
        crashed = None
    # The crashed thread is walked first so that it gets the variable budget.
    order = sorted(range(len(threads)), key=lambda i: threads[i].tid != crashed)
    records: dict[int, dict[str, Any]] = {}
    for n, i in enumerate(order):
        t = threads[i]
        try:
            records[i] = walker.thread(t, t.tid == crashed, n < bounds.max_threads)
        except Exception as e:  # noqa: BLE001 - one thread drgn chokes on must not cost the others
            why = f"drgn failed on this thread: {type(e).__name__}: {e}"
            records[i] = {"tid": t.tid, "name": None, "crashed": t.tid == crashed}
            records[i].update(registers={}, frames=[], frames_cut=why)
    if len(threads) > bounds.max_threads:
        walker.cuts.append(f"threads: frames of {bounds.max_threads} of {len(threads)}")
    return [records[i] for i in range(len(threads))], crashed
