"""Generic webhooks: the payload as JSON, signed with HMAC-SHA256 when the target has a secret.

Headers: ``X-Coresnap-Event`` (new-group, regression, threshold), ``X-Coresnap-Delivery`` (the
outbox row id: the same on retries, so a receiver can drop duplicates) and, with a secret,
``X-Coresnap-Signature: sha256=<hex HMAC-SHA256 of the body with the secret>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from coresnap.store.alerts.kinds.outgoing import Outgoing, post_json

SIGNATURE = "X-Coresnap-Signature"


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send(out: Outgoing) -> None:
    data = json.dumps(out.payload, sort_keys=True).encode()
    headers = {str(k): str(v) for k, v in (out.settings.get("headers") or {}).items()}
    headers["X-Coresnap-Event"] = str(out.payload["event"])
    headers["X-Coresnap-Delivery"] = str(out.delivery)
    if out.settings.get("secret"):
        headers[SIGNATURE] = sign(str(out.settings["secret"]), data)
    post_json(out, out.settings["url"], data, headers)
