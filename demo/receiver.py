"""A local alert receiver for `make run`: an HTTP server on loopback that records what coronerd
sends (the Slack incoming-webhook format and the generic webhook JSON), so the demo can show
one message per new group without any outside service."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """``with Receiver() as r:`` serves on ``r.url``; ``r.messages`` are (path, JSON body)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, Any]] = []
        lock = threading.Lock()
        messages = self.messages

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                size = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(size)
                try:
                    doc: Any = json.loads(body)
                except ValueError:
                    doc = body.decode(errors="replace")
                with lock:
                    messages.append((self.path, doc))
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Receiver:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
