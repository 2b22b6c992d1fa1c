"""Where snapshot and attachment bytes live: a local directory (default) or an S3 bucket.

Keys are built by the store only (``<project>/<oid[:2]>/<oid[2:4]>/<oid>[.name]``, validated
ids), never from raw request text. Local writes are durable before ``put`` returns: the file's
data and the directory entries leading to it (each new shard directory's entry in its parent
too) are fsynced; see :meth:`LocalBlobs.put`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Protocol

from coresnap.errors import ConfigError, StoreError
from coresnap.store.config import StoreConfig

# Bound on the remembered shard directories (two levels of 256 per project).
_MAX_KNOWN_DIRS = 1 << 18


class BlobStore(Protocol):
    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes | None: ...

    def delete(self, key: str) -> None: ...


def blob_key(project: str, oid: str, suffix: str = "snap") -> str:
    """The key of object ``oid``'s blob (``suffix`` names an attachment)."""
    return f"{project}/{oid[:2]}/{oid[2:4]}/{oid}.{suffix}"


class LocalBlobs:
    """Blobs as files under ``root`` (sharded by the object id's first two bytes)."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve()
        with contextlib.suppress(PermissionError):  # a parent we may not open: made by an admin
            _fsync_dir(self.root.parent)
        # Shard directories known to exist durably (their entry fsynced in the parent).
        self._dirs: set[Path] = {self.root}
        self._dirs_lock = threading.Lock()

    def _path(self, key: str) -> Path:
        # Keys are made by the store from validated ids; checked all the same, lexically (no
        # absolute path, no ".." part): no system call per blob.
        parts = key.split("/")
        if key.startswith("/") or "\0" in key or ".." in parts:
            raise StoreError(f"blob key outside the store: {key!r}")
        return self.root.joinpath(*parts)

    def _directories(self, path: Path) -> list[Path]:
        """Make ``path`` and its parents exist; return those whose entry this process has not
        fsynced in their parent yet (the caller syncs them, then calls :meth:`_synced`).

        A directory found existing counts too: its maker may not have synced it yet (another
        thread, or a process killed in between).
        """
        if path in self._dirs:
            return []
        todo = self._directories(path.parent)
        path.mkdir(exist_ok=True)
        return [*todo, path]

    def _synced(self, made: list[Path]) -> None:
        for path in made:
            _fsync_dir(path.parent)
        with self._dirs_lock:
            if len(self._dirs) > _MAX_KNOWN_DIRS:
                self._dirs = {self.root}
            self._dirs.update(made)

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` at ``key``, durably, replacing what was there.

        The file is created under its final name (O_EXCL), written and fsynced, then its
        directory (and any new directory's parent) fsynced: the create, the data and the new
        directories go to disk in one journal commit on ext4 or XFS, and the directory syncs
        that follow find them there. A reader never sees the file before it is whole: the row
        naming a blob commits only after this returns. A file already there (an earlier
        attempt, possibly cut short by a crash) is kept when it holds exactly ``data``, else
        replaced atomically (temporary file, fsync, rename).
        """
        path = self._path(key)
        made = self._directories(path.parent)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            if not _holds(path, data):
                self._replace(path, data)
            self._synced(made)
            _fsync_dir(path.parent)
            return
        try:
            _write_all(fd, data)
            os.fsync(fd)
        except BaseException:
            mine = os.fstat(fd).st_ino
            os.close(fd)
            with contextlib.suppress(OSError):
                if os.stat(path).st_ino == mine:  # not a whole copy renamed there meanwhile
                    path.unlink()
            raise
        os.close(fd)
        _fsync_dir(path.parent)
        self._synced(made)

    def _replace(self, path: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            try:
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class S3Blobs:
    """Blobs as objects of an S3-compatible bucket (created when missing)."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket
        try:
            client.head_bucket(Bucket=bucket)
        except client.exceptions.ClientError:
            client.create_bucket(Bucket=bucket)

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def get(self, key: str) -> bytes | None:
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.NoSuchKey:
            return None
        return bytes(reply["Body"].read())

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _holds(path: Path, data: bytes) -> bool:
    """Whether the file at ``path`` holds exactly ``data`` (then fsynced: it may be a copy a
    killed process wrote and never synced)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        if os.fstat(fd).st_size != len(data):
            return False
        with os.fdopen(os.dup(fd), "rb") as f:
            if f.read() != data:
                return False
        os.fsync(fd)
        return True
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_blobs(config: StoreConfig) -> BlobStore:
    """The blob store the config names; raises ConfigError for an unknown ``blobs.kind``."""
    kind = config["blobs.kind"]
    if kind == "local":
        return LocalBlobs(config.path("blobs.path"))
    if kind == "s3":
        import boto3  # imported here: only S3 deployments pay for botocore's start-up

        client = boto3.client(
            "s3",
            endpoint_url=config["blobs.s3_endpoint"] or None,
            region_name=config["blobs.s3_region"],
            aws_access_key_id=config["blobs.s3_access_key"] or None,
            aws_secret_access_key=config["blobs.s3_secret_key"] or None,
        )
        return S3Blobs(client, config["blobs.s3_bucket"])
    raise ConfigError("blobs.kind", f"unknown blob store {kind!r} (local or s3)")
