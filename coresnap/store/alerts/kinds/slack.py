"""Slack incoming webhooks: ``text`` (notifications, fallback) and Block Kit ``blocks``.

Slack answers 200 ``ok``; 4xx bodies name the problem (``invalid_payload``, ``no_service``).
"""

from __future__ import annotations

import json
from typing import Any

from coresnap.store.alerts import message
from coresnap.store.alerts.kinds.outgoing import Outgoing, post_json


def body(payload: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """The JSON Slack gets for ``payload``."""
    url = payload["group"]["url"]
    title = message.title(payload)
    facts = "\n".join(f"*{label}*: {value}" for label, value in message.facts(payload))
    frames = "\n".join(message.frames(payload)) or "(no frames)"
    links = f"<{url}|Open the group in the console>"
    if payload["object"].get("url"):
        links += f" · <{payload['object']['url']}|this crash's snapshot>"
    doc: dict[str, Any] = {
        "text": f"{title} <{url}|open>",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": facts[:3000]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"```{frames[:2900]}```"}},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": links}],
            },
        ],
    }
    for key in ("channel", "username"):
        if settings.get(key):
            doc[key] = settings[key]
    return doc


def send(out: Outgoing) -> None:
    data = json.dumps(body(out.payload, out.settings)).encode()
    post_json(out, out.settings["url"], data)
