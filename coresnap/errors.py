"""The one root error of coresnap and its data-carrying subclasses.

Every error raised on purpose by coresnap derives from :class:`CoresnapError`. Subclasses carry
the data a caller needs to act (an offset, an address, an id) as attributes, not only as text.
"""

from __future__ import annotations

from typing import Literal, get_args

# Why a coresnapd step failed: timed out; killed by a signal; a non-zero exit status; exit 0
# without an output file; the command could not be started.
StepReason = Literal["timeout", "killed", "exit_status", "no_output", "cannot_run"]


class CoresnapError(Exception):
    """Root of every error coresnap raises on purpose."""


class CoreFormatError(CoresnapError):
    """A core (or ELF) file is malformed: ``offset`` is the file offset of the problem."""

    def __init__(self, offset: int, what: str, path: str | None = None) -> None:
        self.offset = offset
        self.what = what
        self.path = path
        where = f"{path}: " if path else ""
        super().__init__(f"{where}offset {offset:#x}: {what}")


class MemoryUnavailable(CoresnapError):
    """``size`` bytes at ``address`` are in no dumped segment and no readable mapped file."""

    def __init__(self, address: int, size: int, why: str = "not in the core") -> None:
        self.address = address
        self.size = size
        self.why = why
        super().__init__(f"memory {address:#x}..{address + size:#x} unavailable: {why}")


class ConfigError(CoresnapError):
    """A configuration file or value is invalid: ``source`` names the file (and line)."""

    def __init__(self, source: str, what: str) -> None:
        self.source = source
        self.what = what
        super().__init__(f"{source}: {what}")


class DwarfExpressionError(CoresnapError):
    """A DWARF expression could not be evaluated: ``position`` is the byte offset in it."""

    def __init__(self, position: int, what: str) -> None:
        self.position = position
        self.what = what
        super().__init__(f"DWARF expression at byte {position}: {what}")


class UnwindError(CoresnapError):
    """Call frame information is malformed: ``offset`` is in section ``section`` of ``path``."""

    def __init__(self, path: str, section: str, offset: int, what: str) -> None:
        self.path = path
        self.section = section
        self.offset = offset
        self.what = what
        super().__init__(f"{path}: {section}+{offset:#x}: {what}")


class DieIndexError(CoresnapError):
    """A DWARF unit uses a form the DIE index cannot size; ``offset`` is where it stopped
    (coresnap/unwind/dieindex.py; the caller falls back to pyelftools)."""

    def __init__(self, offset: int, what: str) -> None:
        self.offset = offset
        super().__init__(f".debug_info+{offset:#x}: {what}")


class CoreFileUnreadable(CoresnapError):
    """The core file at ``path`` cannot be opened as a regular file: ``why`` says what failed."""

    def __init__(self, path: str, why: str) -> None:
        self.path = path
        self.why = why
        super().__init__(f"{path}: cannot read core: {why}")


class CaptureRejected(CoresnapError):
    """The archive tool did not archive a crash: ``counter`` names the drop counter it bumped
    (``quota``, ``max_pending``, ``invalid``, ``empty``, ``no_space``, ...), ``what`` says why."""

    def __init__(self, counter: str, what: str) -> None:
        self.counter = counter
        self.what = what
        super().__init__(f"dropped ({counter}): {what}")


class StepFailed(CoresnapError):
    """A coresnapd step (snapshot, put) failed for dump ``dump_id``: ``what`` says why in
    words, ``reason`` in one of :attr:`REASONS` (the label coresnapd's metrics count it by)."""

    REASONS: tuple[StepReason, ...] = get_args(StepReason)

    def __init__(self, step: str, dump_id: str, what: str, reason: StepReason) -> None:
        self.step = step
        self.dump_id = dump_id
        self.what = what
        self.reason = reason
        super().__init__(f"{step} of {dump_id} failed: {what}")


class UnwindStepFailed(CoresnapError):
    """The unwinder could not step to a frame's caller; ``stop`` is a ``STOP_*`` string with
    details (coresnap/unwind/frames.py), recorded as the thread's stop reason."""

    def __init__(self, stop: str) -> None:
        self.stop = stop
        super().__init__(stop)


class StoreError(CoresnapError):
    """An error of the object store; ``status``/``code`` are what coronerd answers over HTTP."""

    status = 400
    code = "bad-request"

    def __init__(self, message: str, **details: object) -> None:
        self.message = message
        self.details = details
        super().__init__(message)


class InvalidDebugFile(StoreError):
    """An uploaded debug file is refused: ``what`` says why (not ELF, another build id...)."""

    status = 422
    code = "invalid-debug-file"

    def __init__(self, build_id: str, what: str) -> None:
        self.build_id = build_id
        self.what = what
        super().__init__(f"debug file for {build_id[:128]}: {what}", build_id=build_id[:128])


class ProjectNotFound(StoreError):
    """No project named ``project`` exists in the store."""

    status = 404
    code = "project-not-found"

    def __init__(self, project: str) -> None:
        self.project = project
        super().__init__(f"no project {project!r}", project=project)


class ObjectNotFound(StoreError):
    """No object ``oid`` in ``project`` (or its blob is gone, see ``why``)."""

    status = 404
    code = "object-not-found"

    def __init__(self, project: str, oid: str, why: str = "no such object") -> None:
        self.project = project
        self.oid = oid
        self.why = why
        super().__init__(f"{project}/{oid}: {why}", project=project, object=oid)


class AuthError(StoreError):
    """The request's token is missing or unknown (401) or lacks ``scope`` (403)."""

    def __init__(self, status: int, message: str, scope: str | None = None) -> None:
        self.status = status
        self.code = "unauthorized" if status == 401 else "forbidden"
        self.scope = scope
        super().__init__(message, scope=scope)


class PayloadTooLarge(StoreError):
    """A body (or its decompressed form) is over ``limit`` bytes."""

    status = 413
    code = "payload-too-large"

    def __init__(self, what: str, limit: int) -> None:
        self.limit = limit
        super().__init__(f"{what} is over the limit of {limit} bytes", limit=limit)


class InvalidSnapshot(StoreError):
    """An uploaded snapshot cannot be decoded or fails validation: ``what`` says why."""

    status = 422
    code = "invalid-snapshot"

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(f"invalid snapshot: {what}")


class QueryError(StoreError):
    """A query (filter, factor, aggregate, sort) is malformed: ``what`` says which part."""

    status = 400
    code = "invalid-query"

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(f"invalid query: {what}")


class QueryTimeout(StoreError):
    """A query ran past the statement timeout (``limits.statement_timeout``) and was stopped."""

    status = 503
    code = "query-timeout"

    def __init__(self) -> None:
        super().__init__(
            "query stopped at the statement timeout: narrow it (a time window, fewer or "
            "simpler regular expressions)"
        )


class StoreBusy(StoreError):
    """coronerd's ``resource`` (the decompression budget) stayed taken for ``wait`` seconds."""

    status = 503
    code = "busy"

    def __init__(self, resource: str, wait: float) -> None:
        self.resource = resource
        super().__init__(f"{resource} in use by other uploads for {wait:g} s: retry later")


class QueriesBusy(StoreError):
    """All ``slots`` query slots of coronerd (``limits.concurrent_queries``) stayed taken for
    ``wait`` seconds; the client may retry after ``retry_after`` seconds (the Retry-After
    header)."""

    status = 503
    code = "busy"

    def __init__(self, slots: int, wait: float, retry_after: int) -> None:
        self.slots = slots
        self.retry_after = retry_after
        super().__init__(
            f"all {slots} query slots in use for {wait:g} s: retry later", retry_after=retry_after
        )


class StoreUnavailable(StoreError):
    """The client could not reach coronerd at ``url`` after its retries."""

    status = 503
    code = "unavailable"

    def __init__(self, url: str, why: str) -> None:
        self.url = url
        self.why = why
        super().__init__(f"{url}: {why}", url=url)


class SnapshotFormatError(CoresnapError):
    """A snapshot (file ``path``, or bytes when ``path`` is None) is not a valid v1 snapshot."""

    def __init__(self, path: str | None, what: str) -> None:
        self.path = path
        self.what = what
        where = f"{path}: " if path else "snapshot: "
        super().__init__(f"{where}{what}")


class SnapshotTooLarge(SnapshotFormatError):
    """A snapshot (``path``, or bytes) is over ``limit`` bytes once inflated: ``what`` says which
    size (declared in its zstd frame, or found inflating it)."""

    def __init__(self, path: str | None, what: str, limit: int) -> None:
        self.limit = limit
        self.size_what = what
        super().__init__(path, f"{what} is over the limit of {limit} bytes")


class SnapshotEngineError(CoresnapError):
    """Snapshot engine ``engine`` could not serve this core: ``why`` says what failed."""

    def __init__(self, engine: str, why: str) -> None:
        self.engine = engine
        self.why = why
        super().__init__(f"{engine} engine: {why}")


class V8LayoutUnknown(CoresnapError):
    """The V8 in ``module`` cannot be decoded: ``what`` is missing (a constant, a version's facts)."""

    def __init__(self, module: str, what: str) -> None:
        self.module = module
        self.what = what
        super().__init__(f"{module}: {what}")


class AssetError(CoresnapError):
    """The asset source ``path`` exists but cannot be read as a directory or tar: ``why``."""

    def __init__(self, path: str, why: str) -> None:
        self.path = path
        self.why = why
        super().__init__(f"{path}: cannot read assets: {why}")


class AlreadyRunning(CoresnapError):
    """Another coresnapd (``pid``) holds the lock of dump root ``root``."""

    def __init__(self, root: str, pid: str) -> None:
        self.root, self.pid = root, pid
        super().__init__(f"another coresnapd (pid {pid or '?'}) is running on {root}")


class WarmWorkerError(CoresnapError, OSError):
    """The warm worker could not be started (or died twice under one job): ``what``."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class KernelDumpError(CoresnapError):
    """A kernel dump cannot be read: ``path`` is the file, ``what`` the problem."""

    def __init__(self, path: str, what: str) -> None:
        self.path = path
        self.what = what
        super().__init__(f"{path}: {what}")


class DumpNotFound(CoresnapError):
    """No dump (or several) under ``root`` match ``prefix``."""

    def __init__(self, root: str, prefix: str, why: str) -> None:
        self.root, self.prefix = root, prefix
        super().__init__(f"{root}: {why}")


class DeliveryFailed(CoresnapError):
    """Delivery ``delivery`` to a ``kind`` target failed: ``what``; ``retry`` if worth retrying."""

    def __init__(self, kind: str, what: str, retry: bool = True) -> None:
        self.kind = kind
        self.what = what
        self.retry = retry
        super().__init__(f"{kind}: {what}")


class InvalidTarget(StoreError):
    """An alert target spec is invalid: ``key`` names the offending key."""

    status = 422
    code = "invalid-alert-target"

    def __init__(self, key: str, what: str) -> None:
        self.key = key
        super().__init__(f"{key}: {what}", key=key)


class TargetNotFound(StoreError):
    """No alert target ``name`` in ``project``."""

    status = 404
    code = "alert-target-not-found"

    def __init__(self, project: str, name: str) -> None:
        super().__init__(f"no alert target {name!r} in {project!r}", project=project, target=name)


class PageError(StoreError):
    """A page that cannot be shown: 404 (absent, or not this user's), 403 (CSRF), 429."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = {404: "not-found", 429: "too-many-requests", 503: "busy"}.get(
            status, "forbidden"
        )


class SignInNeeded(StoreError):
    """No live session: the page answers with a redirect to /login."""

    def __init__(self, path: str) -> None:
        super().__init__("sign in first")
        self.status, self.code, self.path = 303, "sign-in", path


class SocketProtocolError(CoresnapError, OSError):
    """The peer did not follow the coredump socket protocol: ``what``."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class InstallError(CoresnapError):
    """Installing or uninstalling the hook failed: ``what`` says why."""

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(what)


class HeadError(CoresnapError):
    """The head cannot be used for a minicore: ``what`` at stream ``offset``."""

    def __init__(self, offset: int, what: str) -> None:
        super().__init__(f"offset {offset}: {what}")
        self.offset, self.what = offset, what
