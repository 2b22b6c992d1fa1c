"""Core → snapshot: read the core's facts, run an engine, add assets, attributes and bounds.

The one rule of this module: if the core itself can be read, the caller gets a snapshot. A
failing engine falls back to the next (drgn → corefile) and the snapshot says why.
"""

from __future__ import annotations

import os
import time
import uuid as uuidlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from coresnap import __version__
from coresnap.analysis.v8 import annotate_js_frames
from coresnap.errors import ConfigError, SnapshotEngineError
from coresnap.snapshot import facts, privacy
from coresnap.snapshot.attributes import attributes
from coresnap.snapshot.bounds import DEFAULT_BOUNDS, Bounds
from coresnap.snapshot.engines import corefile_engine, start_drgn
from coresnap.snapshot.engines.result import EngineResult
from coresnap.snapshot.engines.scan import scan_crashed_thread
from coresnap.snapshot.format import FORMAT, VERSION
from coresnap.snapshot.labels import label_mappings
from coresnap.snapshot.merge import merge_modules, merge_threads
from coresnap.snapshot.shrink import shrink
from coresnap.snapshot.source import attach_source
from coresnap.snapshot.system import crash_time, local_system, process_facts, system_facts
from coresnap.spool.assets import read_assets

if TYPE_CHECKING:
    from coresnap.snapshot.engines.drgn_engine import DebugInfoLoad

EngineName = Literal["auto", "drgn", "corefile"]
OBJECT_KEY = "coresnap.object"


def build_snapshot(
    core_path: str | os.PathLike[str],
    exe: str | None = None,
    *,
    resource: str | os.PathLike[str] | None = None,
    kv: dict[str, str] | None = None,
    engine: EngineName = "auto",
    bounds: Bounds = DEFAULT_BOUNDS,
    fallback_reason: str | None = None,
    analyze: bool = False,
    started: DebugInfoLoad | None = None,
) -> dict[str, Any]:
    """The v1 snapshot of ``core_path``.

    ``engine="auto"`` tries drgn and falls back to the core-reader engine; ``fallback_reason``
    lets a caller that already saw drgn fail (the isolating parent) say why. ``analyze`` fills
    classification, annotations, fingerprint and quality (:mod:`coresnap.analysis`) while the
    core is open (``coresnap snapshot`` does; library callers may run it themselves).
    ``started`` is :func:`~coresnap.snapshot.engines.start_drgn` of the same core and exe, when
    the caller started drgn early; otherwise it is started here, before the core reader runs.

    Raises:
        CoreFormatError, CoreFileUnreadable: the core cannot be read at all.
        AssetError: ``resource`` is given but is neither a directory nor a tar.
        ConfigError: ``kv`` has a malformed ``coresnap.object``, or the privacy policy of
            coresnap.conf cannot be read (:func:`coresnap.snapshot.privacy.apply`).
    """
    began = time.monotonic()
    from coresnap.corefile import open_core

    try:
        kv = dict(kv or {})
        object_id = _object_id(kv.get(OBJECT_KEY))
        assets = read_assets(resource) if resource is not None else None
        if started is None:
            started = start_drgn(str(core_path), exe, engine)
        core = open_core(str(core_path))
    except BaseException:
        if started is not None:
            started.join()  # never leave drgn reading on its thread
        raise
    try:
        snap = _skeleton(core)
        label_mappings(snap)
        result, reason = _run_engine(
            engine, core, str(core_path), exe, bounds, snap, analyze, started
        )
        reason = fallback_reason if result.engine == "corefile" and fallback_reason else reason
        snap["uuid"] = object_id
        merge_threads(snap, result)
        scan_crashed_thread(core, snap, bounds.max_frames)
        result.warnings.extend(annotate_js_frames(core, snap))
        snap["modules"] = merge_modules(snap["modules"], result.modules)
        _apply_assets(snap, assets, core_path)
        snap["attributes"] = attributes(snap, kv)
        attach_source(snap)
        cuts = [*result.cuts, *shrink(snap, bounds)]
        snap["analysis"] = {
            "engine": result.engine,
            "fallback_reason": reason,
            "tool_version": __version__,
            "duration_ms": 0.0,
            "cuts": cuts,
            "core_path": str(Path(core_path).resolve()),
            "core_size": _size(core_path),
            "core_truncated": bool(getattr(core, "truncated", False)),
            "warnings": result.warnings[:64],
            "bounds": bounds.as_dict(),
        }
        if analyze:
            _analyze(snap, core)
        privacy.apply(snap, assets, core)  # last: nothing read from memory is left unchecked
    finally:
        close = getattr(core, "close", None)
        if close is not None:
            close()
        if started is not None:
            started.join()
    snap["analysis"]["duration_ms"] = round((time.monotonic() - began) * 1000, 1)
    return snap


def _analyze(snap: dict[str, Any], core: Any) -> None:
    """Classification, annotations, fingerprint, quality (coresnap.analysis), with the core at
    hand for memory reads. A failure there costs those slots only, never the snapshot."""
    try:
        from coresnap.analysis import analyze
    except ImportError as e:
        snap["analysis"]["warnings"].append(f"analysis not available: {e}")
        return
    try:
        analyze(snap, core)
    except Exception as e:  # noqa: BLE001 - the snapshot must survive its analysis
        snap["analysis"]["warnings"].append(f"analysis failed: {type(e).__name__}: {e}")


def _import_analysis() -> None:
    """Import coresnap.analysis ahead of :func:`_analyze` (while drgn reads debug info)."""
    try:
        import coresnap.analysis  # noqa: F401
    except ImportError:
        pass  # _analyze says so in the snapshot


def _skeleton(core: Any) -> dict[str, Any]:
    crashed = facts.crashed_tid(core)
    return {
        "format": FORMAT,
        "version": VERSION,
        "uuid": "",
        "timestamp": 0.0,
        "process": facts.process_section(core),
        "signal": facts.signal_section(core.signal),
        "crashed_thread": crashed,
        "threads": [facts.thread_section(t, t.tid == crashed) for t in core.threads],
        "modules": [facts.module_section(m) for m in core.modules],
        "memory_map": [facts.mapping_section(m) for m in core.mappings],
        "system": {},
        "attributes": {},
        "classification": None,
        "annotations": [],
        "fingerprint": None,
        "quality": None,
        "analysis": {},
    }


def _run_engine(
    engine: EngineName,
    core: Any,
    core_path: str,
    exe: str | None,
    bounds: Bounds,
    snap: dict,
    analyze: bool = False,
    started: DebugInfoLoad | None = None,
) -> tuple[EngineResult, str | None]:
    """(result, why the fallback ran or None)."""
    if engine == "corefile":
        return corefile_engine.run(core, exe, bounds), "corefile engine requested"
    try:
        from coresnap.snapshot.engines import drgn_engine
    except ImportError as e:
        if engine == "drgn":
            raise SnapshotEngineError("drgn", f"cannot be loaded: {e}") from None
        return corefile_engine.run(core, exe, bounds), f"drgn cannot be loaded: {e}"
    try:
        preload = _import_analysis if analyze else None
        result = drgn_engine.run(
            core_path, exe, bounds, snap["memory_map"], started=started, while_loading=preload
        )
    except SnapshotEngineError as e:
        if engine == "drgn":
            raise
        return corefile_engine.run(core, exe, bounds), str(e)
    except Exception as e:  # noqa: BLE001 - drgn internals: the caller must still get a snapshot
        if engine == "drgn":
            raise SnapshotEngineError("drgn", f"{type(e).__name__}: {e}") from e
        why = f"drgn engine failed: {type(e).__name__}: {e}"
        return corefile_engine.run(core, exe, bounds), why
    if engine == "auto" and not any(t["frames"] for t in result.threads):
        fallback = corefile_engine.run(core, exe, bounds)
        if any(t["frames"] for t in fallback.threads):
            return fallback, "drgn engine found no frames in any thread"
    return result, None


def _apply_assets(snap: dict[str, Any], assets: dict[str, bytes] | None, core: Any) -> None:
    if assets is None:
        snap["system"] = local_system()
        snap["timestamp"] = _mtime(core)
        return
    snap["system"] = system_facts(assets)
    for key, value in process_facts(assets).items():
        if value not in (None, "", [], {}):
            snap["process"][key] = value
    snap["timestamp"] = crash_time(assets) or _mtime(core)


def _object_id(value: str | None) -> str:
    if value is None:
        return uuidlib.uuid4().hex
    try:
        return uuidlib.UUID(value.strip()).hex
    except ValueError:
        raise ConfigError("--kv", f"{OBJECT_KEY} {value!r} is not a 32-hex-digit id") from None


def _mtime(path: Any) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return time.time()


def _size(path: Any) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None
