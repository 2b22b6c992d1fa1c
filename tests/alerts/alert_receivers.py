"""Real receivers on loopback that record what coronerd sends: HTTP (Slack, webhook, a fake
JIRA REST API answering as JIRA does) and SMTP (a minimal server on socketserver)."""

from __future__ import annotations

import base64
import json
import socket
import socketserver
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """Records every request; answers ``status`` after ``delay`` seconds (JIRA-like if ``jira``).

    ``start()`` listens on ``port`` (a free one by default): a receiver made but not started is a
    receiver that is down.
    """

    port: int = field(default_factory=free_port)
    status: int = 200
    delay: float = 0.0
    jira: bool = False
    requests: list[Request] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _issues: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HttpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                receiver.requests.append(
                    Request("POST", self.path, dict(self.headers.items()), body, time.time())
                )
                if receiver.delay:
                    time.sleep(receiver.delay)
                status, answer = receiver.answer(self.path)
                data = json.dumps(answer).encode() if answer is not None else b"ok"
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up waiting (its timeout): what the test wants

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def answer(self, path: str) -> tuple[int, Any]:
        if not self.jira or self.status >= 300:
            return self.status, None
        if path == "/rest/api/2/issue":
            self._issues += 1
            n = 10000 + self._issues
            key = f"CORE-{self._issues}"
            return 201, {"id": str(n), "key": key, "self": f"{self.url}/rest/api/2/issue/{n}"}
        if path.startswith("/rest/api/2/issue/") and path.endswith("/comment"):
            return 201, {"id": str(20000 + len(self.requests)), "body": "recorded"}
        return 404, {"errorMessages": [f"no such resource {path}"]}

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait(self, n: int, timeout: float = 20.0) -> list[Request]:
        """The requests once there are at least ``n`` (fails after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.requests) >= n, f"{len(self.requests)} requests, expected {n}"
        return list(self.requests)


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    data: bytes


class _TcpServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class SmtpReceiver:
    """A minimal SMTP server (EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT) recording
    mails and logins."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self.logins: list[tuple[str, str]] = []
        self.port = free_port()
        receiver = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("220 127.0.0.1 test SMTP ready")
                sender, rcpts = "", []
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    verb = line.decode().strip().split(" ", 1)[0].upper()
                    arg = line.decode().strip()[len(verb) :].strip()
                    if verb == "EHLO":
                        self.reply("250-127.0.0.1")
                        self.reply("250 AUTH PLAIN")
                    elif verb == "HELO":
                        self.reply("250 127.0.0.1")
                    elif verb == "AUTH" and arg.upper().startswith("PLAIN "):
                        _, user, password = base64.b64decode(arg.split()[1]).split(b"\0")
                        receiver.logins.append((user.decode(), password.decode()))
                        self.reply("235 2.7.0 Authentication successful")
                    elif verb == "MAIL":
                        sender, rcpts = arg.split(":", 1)[1].strip().strip("<>"), []
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        rcpts.append(arg.split(":", 1)[1].strip().strip("<>"))
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        lines = []
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            lines.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                        receiver.mails.append(Mail(sender, rcpts, b"".join(lines)))
                        self.reply("250 OK queued")
                    elif verb in ("RSET", "NOOP"):
                        self.reply("250 OK")
                    elif verb == "QUIT":
                        self.reply("221 Bye")
                        return
                    else:
                        self.reply("502 Command not implemented")

        self._server = _TcpServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait(self, n: int, timeout: float = 20.0) -> list[Mail]:
        deadline = time.monotonic() + timeout
        while len(self.mails) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.mails) >= n, f"{len(self.mails)} mails, expected {n}"
        return list(self.mails)
