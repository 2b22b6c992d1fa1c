"""``python -m coresnap.store.alerts.listen``: a real process printing the alerts coronerd sends it."""

from __future__ import annotations

import subprocess
import sys

import httpx

from tests.alerts.alert_receivers import free_port
from tests.alerts.alert_store import CONSOLE, add_target, admin_project, put, settle
from tests.store.coronerd_server import Server
from tests.store.store_snapshots import group_key

FPS = ("1a" * 32, "2b" * 32)


def test_listen_prints_one_line_per_alert_and_checks_signatures(alerting: Server) -> None:
    port = free_port()
    run = [
        sys.executable,
        "-m",
        "coresnap.store.alerts.listen",
        "--port",
        str(port),
        "--secret",
        "k",
    ]
    proc = subprocess.Popen(run, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"listening on http://127.0.0.1:{port}/"
        p, admin = admin_project(alerting)
        url = f"http://127.0.0.1:{port}/"
        add_target(
            alerting, p, admin, name="l", kind="webhook", settings={"url": url, "secret": "k"}
        )
        for fp in FPS:
            put(alerting, p, fingerprint=fp)
            put(alerting, p, fingerprint=fp)
        rows = settle(alerting, p)
        assert [r["state"] for r in rows] == ["sent", "sent"]
        lines = [proc.stdout.readline().strip() for _ in FPS]
        for fp in FPS:
            key = group_key(fingerprint=fp)  # coronerd's key of the bug's group
            want = (
                f"[new-group] {p.name} {key[:16]}: New fault in {p.name}: thread_fn "
                f"(memory.write, use-after-free) -> {CONSOLE}/p/{p.name}/g/{key}"
            )
            assert want in lines
        forged = httpx.post(url, content=b"{}", headers={"X-Coresnap-Signature": "sha256=00"})
        assert forged.status_code == 401
    finally:
        proc.terminate()
        proc.wait(10)
