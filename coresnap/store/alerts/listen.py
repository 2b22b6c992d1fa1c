"""A local webhook receiver that prints one line per alert: try a target before pointing it at a
real service, or watch alerts on a laptop (``make run`` style demos).

    python -m coresnap.store.alerts.listen [--host 127.0.0.1] [--port 9000] [--secret S]

Each POST answers 200 and prints ``[event] project fingerprint: title -> console link``; with
``--secret`` the ``X-Coresnap-Signature`` header is checked and a bad one is answered 401.
"""

from __future__ import annotations

import argparse
import hmac
import json
import sys
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

from coresnap.store.alerts import message
from coresnap.store.alerts.kinds.webhook import SIGNATURE, sign

MAX_BODY = 1 << 20


def line(payload: dict[str, Any]) -> str:
    """The printed line of one webhook payload."""
    group = payload["group"]
    title = message.title(payload)
    return f"[{payload['event']}] {payload['project']} {group['fingerprint'][:16]}: {title} -> {group['url']}"


def server(host: str, port: int, out: TextIO, secret: str | None = None) -> ThreadingHTTPServer:
    """A server (not yet serving) printing alerts to ``out``."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(min(length, MAX_BODY))
            if secret and not hmac.compare_digest(
                self.headers.get(SIGNATURE, ""), sign(secret, body)
            ):
                self._answer(401, "bad signature\n")
                return
            try:
                text = line(json.loads(body))
            except (ValueError, KeyError, TypeError) as e:
                self._answer(400, f"not a coresnap alert: {e}\n")
                return
            print(text, file=out, flush=True)
            self._answer(200, "ok\n")

        def _answer(self, status: int, text: str) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return ThreadingHTTPServer((host, port), Handler)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m coresnap.store.alerts.listen", description="Print coresnap webhook alerts."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--secret", help="check X-Coresnap-Signature with this secret")
    args = parser.parse_args(argv)
    srv = server(args.host, args.port, sys.stdout, args.secret)
    print(f"listening on http://{args.host}:{srv.server_address[1]}/", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
