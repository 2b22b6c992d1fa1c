"""Real coronerd processes on loopback for the store tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from coresnap.store import auth
from coresnap.store.db.engine import make_engine, writing

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN = os.environ.get(
    "CORESNAP_TEST_PG_ADMIN", "postgresql://coresnap_test:coresnap_test@127.0.0.1:5432/postgres"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_connect() -> psycopg.Connection:
    try:
        return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError:
        # Not running yet (a fresh machine, or pytest run outside make): start it, once.
        subprocess.run([str(ROOT / "tools" / "postgres.sh")], check=True)
        return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)


@dataclass
class Project:
    name: str
    tokens: dict[str, str]
    cf: Path

    def headers(self, token: str = "blackhole") -> dict[str, str]:
        return {"X-Coroner-Token": self.tokens[token]}


@dataclass
class Server:
    """One coronerd process (restartable) and what tests need to talk to it."""

    kind: str
    workdir: Path
    config: Path
    database_url: str
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, port: int | None = None) -> None:
        self.port = port or free_port()
        log = open(self.workdir / "coronerd.log", "ab")  # noqa: SIM115 (owned by the process)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "coresnap.cli.coronerd",
                "-c",
                str(self.config),
                "serve",
                "--port",
                str(self.port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
        )
        deadline = time.monotonic() + 60  # a loaded machine (2 cores, parallel suites)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"coronerd exited: {self.log()[-2000:]}")
            try:
                if httpx.get(self.url + "/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"coronerd did not start: {self.log()[-2000:]}")

    def kill(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return (self.workdir / "coronerd.log").read_text(errors="replace")

    def project(self, prefix: str = "p") -> Project:
        """A new project with tokens blackhole (submit,read), submitter, reader, and a coroner.cf."""
        name = f"{prefix}{uuid.uuid4().hex[:8]}"
        engine = make_engine(self.database_url)
        tokens = {}
        try:
            with writing(engine.connect()) as conn, conn.begin():
                auth.create_project(conn, name)
                for token, scopes in (
                    ("blackhole", {"submit", "read"}),
                    ("submitter", {"submit"}),
                    ("reader", {"read"}),
                ):
                    tokens[token] = auth.create_token(conn, name, token, scopes)
        finally:
            engine.dispose()
        cf = self.workdir / f"{name}.cf"
        lines = [
            "[universe]",
            "name = test",
            f"write = {self.url}",
            f"read = 127.0.0.1:{self.port}",
            "read.ssl.enabled = false",
            "[token]",
        ]
        lines += [f"{k} = {v}" for k, v in tokens.items()]
        cf.write_text("\n".join(lines) + "\n")
        return Project(name, tokens, cf)


def write_config(workdir: Path, database_url: str, **sections: dict[str, object]) -> Path:
    tables: dict[str, dict[str, object]] = {
        "database": {"url": database_url},
        "blobs": {"path": "blobs"},
    }
    for section, values in sections.items():
        tables.setdefault(section, {}).update(values)
    lines = []
    for section, values in tables.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    path = workdir / "coronerd.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def make_server(kind: str, workdir: Path, pg: str | None, **sections: dict[str, object]) -> Server:
    workdir.mkdir(parents=True, exist_ok=True)
    if kind == "sqlite":
        url = f"sqlite:///{workdir / 'coronerd.db'}"
    else:
        assert pg is not None
        url = pg
    return Server(kind, workdir, write_config(workdir, url, **sections), url)


@contextlib.contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database (SQLAlchemy URL), dropped on exit."""
    name = f"coresnap_test_{uuid.uuid4().hex[:12]}"
    with pg_connect() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with pg_connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
