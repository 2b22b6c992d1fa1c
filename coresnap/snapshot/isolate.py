"""Run the snapshot in a child process with CPU-time, address-space and wall-clock limits.

A hostile core may send drgn into a loop or make it allocate without end; the child pays for
it, not the caller (the daemon). When the child fails or is killed, the parent makes the
snapshot with the cheap core-reader engine in-process and records why in
``analysis.fallback_reason``. Only a core that cannot be read at all raises.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from coresnap.errors import SnapshotFormatError
from coresnap.snapshot.bounds import DEFAULT_BOUNDS, Bounds

if TYPE_CHECKING:  # the snapshot code is imported where it runs: coresnapd only needs Limits
    from coresnap.snapshot.build import EngineName

# Exit codes of coresnap.snapshot.worker.
EXIT_OK = 0
EXIT_CORE_UNREADABLE = 3
EXIT_ENGINE_FAILED = 4


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 120  # RLIMIT_CPU: the kernel sends SIGXCPU, then SIGKILL
    memory_mb: int = 2048  # RLIMIT_AS of the child
    wall_seconds: float = 180.0  # the parent kills the child's process group after this


def run_snapshot(
    core: str,
    exe: str | None,
    limits: Limits = Limits(),  # noqa: B008 - frozen dataclass, safe as a default
    *,
    resource: str | None = None,
    kv: dict[str, str] | None = None,
    engine: EngineName = "auto",
    bounds: Bounds = DEFAULT_BOUNDS,
    analyze: bool = False,
) -> dict[str, Any]:
    """The snapshot of ``core``, made in a limited child (fallback: core reader, in-process),
    checked against the schema.

    Raises:
        SnapshotFormatError: the fallback's snapshot is not a valid v1 snapshot.
        CoreFormatError, CoreFileUnreadable: the core cannot be read at all.
        AssetError, ConfigError: as :func:`build_snapshot`.
    """
    from coresnap.snapshot.build import build_snapshot
    from coresnap.snapshot.format import load, validate

    common: dict[str, Any] = {"resource": resource, "kv": kv, "bounds": bounds, "analyze": analyze}
    if engine == "corefile":
        snap = build_snapshot(core, exe, engine="corefile", **common)
        validate(snap)
        return snap
    with tempfile.TemporaryDirectory(prefix="coresnap-snap-") as tmp:
        out = os.path.join(tmp, "snapshot.json")
        request = {
            "core": core,
            "exe": exe,
            "out": out,
            "resource": resource,
            "kv": kv,
            "engine": engine,
            "bounds": bounds.as_dict(),
            "analyze": analyze,
        }
        why = _run_child(request, limits)
        if why is None:
            try:
                return load(out)
            except SnapshotFormatError as e:
                why = f"child wrote a bad snapshot: {e.what}"
    snap = build_snapshot(core, exe, engine="corefile", fallback_reason=why, **common)
    validate(snap)
    return snap


def _run_child(request: dict[str, Any], limits: Limits) -> str | None:
    """None when the child wrote its snapshot, else why it did not."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "coresnap.snapshot.worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
        preexec_fn=lambda: apply_limits(limits),
    )
    try:
        _, err = proc.communicate(json.dumps(request).encode(), timeout=limits.wall_seconds)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return f"snapshot child exceeded the wall-clock limit of {limits.wall_seconds:g} s"
    return explain(proc.returncode, err.decode(errors="replace"), limits)


def explain(code: int, stderr: str, limits: Limits) -> str | None:
    """Why a snapshot child exited with ``code`` (negative: killed by that signal) having
    written ``stderr``, as ``analysis.fallback_reason`` says it; None for a success."""
    last = stderr.strip().splitlines()[-1][:300] if stderr.strip() else ""
    if code == EXIT_OK:
        return None
    if code == -signal.SIGXCPU or code == -signal.SIGKILL:
        return f"snapshot child exceeded the CPU limit of {limits.cpu_seconds} s"
    if code < 0:
        return f"snapshot child died of {signal.Signals(-code).name}: {last}".rstrip(": ")
    if "MemoryError" in stderr or "Cannot allocate memory" in stderr:
        return f"snapshot child exceeded the memory limit of {limits.memory_mb} MiB"
    return f"snapshot child failed (exit {code}): {last}".rstrip(": ")


def apply_limits(limits: Limits) -> None:
    """Set ``limits`` (CPU, address space; no core) on this process: a child between fork and
    exec, or a warm worker's fork. Only async-signal-safe work (setrlimit)."""
    cpu = max(1, limits.cpu_seconds)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    mem = limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
