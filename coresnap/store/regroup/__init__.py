"""``coronerd regroup``: group stored objects again by the fingerprint this coronerd computes.

When the fingerprint's version changes, when its rules change, or when learned symbols can now
name the frames of stripped crashes stored earlier, stored objects sit in groups their keys no
longer name. Regroup reads every kept snapshot (``read.py``), plans which groups split and merge
(``plan.py``), prints the plan (``report.py``) and, unless it is a dry run, carries it out in
bounded transactions that a kill at any point leaves consistent and a rerun finishes
(``apply.py``), keeping states, JIRA keys and history (``heritage.py``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from sqlalchemy import Engine, select

from coresnap.errors import StoreError
from coresnap.store import fingerprints
from coresnap.store.blobs import BlobStore
from coresnap.store.config import StoreConfig
from coresnap.store.db.engine import reading
from coresnap.store.db.models import projects
from coresnap.store.regroup import apply, plan, read

Progress = Callable[[str, int, int], None]


def _quiet(_step: str, _done: int, _total: int) -> None:
    return None


def project_ids(engine: Engine, name: str | None) -> list[tuple[int, str]]:
    """(id, name) of project ``name``, or of every project; raises StoreError(404) if unknown."""
    q = select(projects.c.id, projects.c.name).order_by(projects.c.name)
    if name is not None:
        q = q.where(projects.c.name == name)
    with engine.connect() as conn:
        found = [(int(i), str(n)) for i, n in conn.execute(q)]
    if name is not None and not found:
        err = StoreError(f"no project {name!r}", project=name)
        err.status, err.code = 404, "project-not-found"
        raise err
    return found


def make_plan(
    engine: Engine,
    blobs: BlobStore,
    config: StoreConfig,
    project: tuple[int, str],
    progress: Progress = _quiet,
    key: read.KeyFunction = fingerprints.compute,
) -> plan.Plan:
    """The plan for one project; ``key`` computes an object's key (default: the server's
    fingerprint, with learned symbols)."""
    pid, name = project
    with reading(engine.connect()) as conn:
        found = read.load(conn, pid)
        # Keys this version made stay right without a snapshot; another function's do not.
        version = fingerprints.version() if key is fingerprints.compute else None
        limit = config["limits.max_snapshot"]
        read.compute(conn, found, pid, blobs, limit, progress, key, version)
    versions = Counter(c.print.version for c in found.computed.values())
    version = versions.most_common(1)[0][0] if versions else None
    return plan.build(pid, name, version or fingerprints.version(), found)


def carry_out(engine: Engine, todo: plan.Plan, batch: int, progress: Progress = _quiet) -> None:
    """Apply ``todo`` in transactions of at most ``batch`` objects (``apply.py``)."""
    if batch < 1:
        raise StoreError("the batch size is at least 1", batch=batch)
    apply.apply(engine, todo, batch, progress)
