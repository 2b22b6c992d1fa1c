"""What the coroner client does against coronerd, as library functions."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from coresnap.client.cf import CoronerConfig
from coresnap.client.http import Client
from coresnap.errors import ConfigError

API = "/api/v1/projects"


def writer(cf: CoronerConfig, token_name: str) -> Client:
    """A client of the write endpoint with token ``token_name`` (raises ConfigError)."""
    return Client(cf.write.url, cf.token(token_name), cf.write.verify)


def reader(cf: CoronerConfig, project: str, token_name: str | None = None) -> Client:
    """A client of the read endpoint with the project's read token."""
    return Client(cf.read.url, cf.read_token(project, token_name), cf.read.verify)


def put_snapshot(
    cf: CoronerConfig,
    project: str,
    token_name: str,
    path: str | os.PathLike[str],
    attributes: dict[str, str] | None = None,
) -> str:
    """Upload the snapshot file ``path`` to ``project`` and return its object id.

    Safe to call again after any failure: the store keeps one object per id. Raises ConfigError
    (no such token or file), StoreUnavailable (unreachable after retries) or StoreError (refused).
    """
    try:
        body = Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(str(path), e.strerror or str(e)) from e
    with writer(cf, token_name) as client:
        return put_body(client, project, body, attributes)


def put_body(
    client: Client, project: str, body: bytes, attributes: dict[str, str] | None = None
) -> str:
    """Upload snapshot bytes with an open client; returns the object id (see put_snapshot)."""
    reply = client.json(
        "POST",
        f"{API}/{project}/objects",
        content=body,
        params=attributes or {},
        headers={"Content-Type": "application/zstd"},
    )
    return str(reply["object"])


def get_object(cf: CoronerConfig, project: str, oid: str, token: str | None = None) -> bytes:
    """The compressed snapshot of object ``oid`` (raises StoreError 404 if unknown or not kept)."""
    with reader(cf, project, token) as client:
        return client.request("GET", f"{API}/{project}/objects/{oid}").content


def query(
    cf: CoronerConfig, project: str, body: dict[str, Any], token: str | None = None
) -> dict[str, Any]:
    """Run a query (the JSON form, see docs/store.md) and return the store's answer."""
    with reader(cf, project, token) as client:
        result: dict[str, Any] = client.json("POST", f"{API}/{project}/query", json=body)
    return result


def read_json(cf: CoronerConfig, project: str, what: str, token: str | None = None) -> Any:
    """GET ``/api/v1/projects/<project>/<what>`` (summary, attributes, objects/<oid>/meta)."""
    with reader(cf, project, token) as client:
        return client.json("GET", f"{API}/{project}/{what}")


class _Sent:
    """A body sent in chunks, telling ``progress`` (name, bytes sent, size) as it goes; each
    retry iterates it again from the start."""

    CHUNK = 1 << 20

    def __init__(self, body: bytes, name: str, progress: Callable[[str, int, int], None]) -> None:
        self.body, self.name, self.progress = body, name, progress

    def __iter__(self) -> Iterator[bytes]:
        for start in range(0, len(self.body), self.CHUNK):
            chunk = self.body[start : start + self.CHUNK]
            yield chunk
            self.progress(self.name, start + len(chunk), len(self.body))


def upload_debug_file(
    cf: CoronerConfig,
    project: str,
    path: str | os.PathLike[str],
    token: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Upload the ELF debug file ``path`` (an unstripped executable or a separate .debug file)
    for the build id it carries; returns the store's record (build_id, name, size, uploaded).
    ``progress`` hears (file name, bytes sent, size) as the body goes out.

    Raises ConfigError (no such file or token), InvalidDebugFile (not ELF, no build id, no
    symbols: checked here before sending) or StoreError (refused by the store).
    """
    from coresnap.unwind.objfile import debug_file_build_id  # pyelftools: this command pays

    try:
        body = Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(str(path), e.strerror or str(e)) from e
    build_id = debug_file_build_id(body)
    with Client(cf.write.url, cf.read_token(project, token), cf.write.verify) as client:
        reply: dict[str, Any] = client.json(
            "PUT",
            f"{API}/{project}/symbols/{build_id}",
            content=body if progress is None else _Sent(body, Path(path).name, progress),
            params={"name": Path(path).name},
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(body))},
        )
    return reply
