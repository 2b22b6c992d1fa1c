"""Where snapshot and attachment bytes live: a local directory (default) or an S3 bucket.

Keys are built by the store only (``<project>/<oid[:2]>/<oid[2:4]>/<oid>[.name]``, validated
ids), never from raw request text. Local writes are atomic and durable: a temporary file in the
same directory, fsync, rename, fsync of the directory (and, the first time a process uses a
shard directory, fsync of its parent: a new directory's entry is durable only then), so a reader
(or a restart after kill -9 or a power cut) sees a whole blob or none.
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

    def _directory(self, path: Path) -> None:
        """Make ``path`` and its parents exist, each entry fsynced in its parent once a process.

        A directory found existing is synced too: its maker may not have synced it yet (another
        thread, or a process killed in between).
        """
        if path in self._dirs:
            return
        self._directory(path.parent)
        path.mkdir(exist_ok=True)
        _fsync_dir(path.parent)
        with self._dirs_lock:
            if len(self._dirs) > _MAX_KNOWN_DIRS:
                self._dirs = {self.root}
            self._dirs.add(path)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        self._directory(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)

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
