"""The project page's crash-volume chart over the chosen window (issue 14): all time spans the
first to the last crash; "last 1d" counts only that day's."""

from __future__ import annotations

import re
import time
import uuid

from tests.console.console_server import Server, add_user, sign_in, upload


def test_volume_chart_follows_the_window(sqlite_store: Server) -> None:
    p = sqlite_store.project()
    now = time.time()
    for i in range(7):  # two days ago, one instant: one bucket
        upload(sqlite_store, p, fingerprint=f"{i:064x}", timestamp=now - 2 * 86400)
    for i in range(3):  # half an hour ago
        upload(sqlite_store, p, fingerprint=f"{i:064x}", timestamp=now - 1800)
    client = sign_in(sqlite_store, add_user(sqlite_store, f"u{uuid.uuid4().hex[:8]}", [p.name]))

    def chart(**params: str) -> str:
        html = client.get(f"/p/{p.name}", params=params).text
        found = re.search(r'<section class="card volume" id="volume">(.*?)</section>', html, re.S)
        assert found, html[:2000]
        return found.group(1)

    everything = chart()
    assert "<h2>Crashes</h2>" in everything and "peak 7 per bucket" in everything
    day = chart(age="1d")
    assert "<h2>Crashes in the last 1d</h2>" in day and "peak 3 per bucket" in day
    empty = sqlite_store.project()
    client = sign_in(sqlite_store, add_user(sqlite_store, f"u{uuid.uuid4().hex[:8]}", [empty.name]))
    assert 'id="volume"' not in client.get(f"/p/{empty.name}").text
