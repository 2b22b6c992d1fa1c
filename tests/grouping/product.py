"""The product path of the grouping corpus: snapshots uploaded to a real coronerd, groups read back.

A fresh coronerd (SQLite, a new directory) is set up with its own CLI (``coronerd init``,
``project create``, ``token create``) and served on loopback. The debug file of each stripped
build (its unstripped twin) is uploaded first (``coroner symbols upload``'s function), then
every snapshot with
``coresnap.client.api.put_snapshot`` (what ``coroner put`` runs, over HTTP, in this process:
a process per upload would cost a second each) and each object's group is read back through
the HTTP API (``GET /api/v1/projects/<project>/objects/<id>/meta``), as a user sees it.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from coresnap.client import api
from coresnap.client.cf import CoronerConfig, parse

PROJECT = "grouping"
TOKEN = "corpus"


class StoreError(Exception):
    """coronerd could not be set up or started in ``work``; ``output`` is what it said."""

    def __init__(self, work: Path, output: str) -> None:
        super().__init__(f"coronerd in {work}: {output[-2000:]}")
        self.work = work
        self.output = output


def _coronerd(config: Path, *args: str) -> str:
    cmd = [sys.executable, "-m", "coresnap.cli.coronerd", "-c", str(config), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise StoreError(config.parent, done.stdout + done.stderr)
    return done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StoreError(log.parent, log.read_text(errors="replace"))
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise StoreError(log.parent, "not healthy after 60 s: " + log.read_text(errors="replace"))


@contextlib.contextmanager
def coronerd(work: Path) -> Iterator[CoronerConfig]:
    """A new coronerd serving ``work`` on loopback; yields the coroner.cf to reach it."""
    work.mkdir(parents=True, exist_ok=True)
    config = work / "coronerd.toml"
    _coronerd(config, "init", "--database", f"sqlite:///{work / 'coronerd.db'}", "--blobs", "blobs")
    _coronerd(config, "project", "create", PROJECT)
    token = _coronerd(config, "token", "create", "--scope", "submit,read", PROJECT, TOKEN).strip()
    port = _free_port()
    log = work / "coronerd.log"
    with open(log, "wb") as out:
        cmd = [sys.executable, "-m", "coresnap.cli.coronerd", "-c", str(config)]
        proc = subprocess.Popen([*cmd, "serve", "--port", str(port)], stdout=out, stderr=out)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, proc, log)
        cf = f"[universe]\nname = grouping\nwrite = {url}\nread = 127.0.0.1:{port}\n"
        cf += f"read.ssl.enabled = false\n[token]\n{TOKEN} = {token}\n"
        (work / "coroner.cf").write_text(cf)
        yield parse(cf, str(work / "coroner.cf"))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def store_groups(
    snapshots: Mapping[str, Path], work: Path, debug_files: Iterable[Path] = (), jobs: int = 4
) -> dict[str, str]:
    """Upload every snapshot (case -> file) to a new coronerd in ``work``; case -> its group.

    ``debug_files`` (the unstripped twins of stripped builds) are uploaded first, as a user
    uploads a release's debug files (``coroner symbols upload``) before its crashes come in.
    Raises StoreError if coronerd cannot start, and the client's errors if an upload fails.
    """
    with coronerd(work) as cf:
        for path in sorted(set(debug_files)):
            api.upload_debug_file(cf, PROJECT, path, TOKEN)

        def one(path: Path) -> str:
            oid = api.put_snapshot(cf, PROJECT, TOKEN, path)
            return str(api.read_json(cf, PROJECT, f"objects/{oid}/meta")["group"])

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            groups = list(pool.map(one, snapshots.values()))
    return dict(zip(snapshots, groups, strict=True))
