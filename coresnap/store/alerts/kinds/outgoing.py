"""What an alert sender is given (:class:`Outgoing`), and the JSON POST most senders make."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Engine

from coresnap.errors import DeliveryFailed


@dataclass
class Outgoing:
    """One message to deliver: the outbox row, its target and what senders may use."""

    delivery: int
    target_id: int
    target: str
    kind: str
    settings: dict[str, Any]
    group_id: int | None
    payload: dict[str, Any]
    timeout: float
    engine: Engine


def post_json(
    out: Outgoing, url: str, body: bytes, headers: dict[str, str] | None = None, **kw: Any
) -> httpx.Response:
    """POST ``body`` (JSON) to ``url``; raises DeliveryFailed for a transport error or non-2xx."""
    all_headers = {"Content-Type": "application/json", "User-Agent": "coronerd-alerts"}
    all_headers.update(headers or {})
    try:
        reply = httpx.post(url, content=body, headers=all_headers, timeout=out.timeout, **kw)
    except httpx.HTTPError as e:
        raise DeliveryFailed(out.kind, f"{type(e).__name__}: {e}"[:500]) from e
    if not reply.is_success:
        retry = reply.status_code >= 500 or reply.status_code in (408, 409, 425, 429)
        text = reply.text[:300].replace("\n", " ")
        raise DeliveryFailed(out.kind, f"HTTP {reply.status_code}: {text}", retry=retry)
    return reply
