"""E-mail through SMTP (smtplib): optional STARTTLS and login; plain-text body.

SMTP replies 4xx are temporary (retried), 5xx permanent; a refused connection is retried.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Any

from coresnap.errors import DeliveryFailed
from coresnap.store.alerts import message
from coresnap.store.alerts.kinds.outgoing import Outgoing


def build(payload: dict[str, Any], settings: dict[str, Any]) -> EmailMessage:
    """The message for ``payload``."""
    msg = EmailMessage()
    msg["Subject"] = "[coresnap] " + message.title(payload)
    msg["From"] = settings["from"]
    msg["To"] = ", ".join(settings["to"])
    msg["X-Coresnap-Event"] = payload["event"]
    msg.set_content(message.text(payload))
    return msg


def send(out: Outgoing) -> None:
    s = out.settings
    msg = build(out.payload, s)
    try:
        with smtplib.SMTP(s["host"], int(s.get("port", 25)), timeout=out.timeout) as smtp:
            if s.get("starttls"):
                smtp.starttls(context=ssl.create_default_context())
            if s.get("username"):
                smtp.login(s["username"], s.get("password", ""))
            smtp.send_message(msg)
    except smtplib.SMTPResponseException as e:
        what = f"SMTP {e.smtp_code}: {e.smtp_error!r}"[:500]
        raise DeliveryFailed("email", what, retry=e.smtp_code < 500) from e
    except smtplib.SMTPRecipientsRefused as e:
        raise DeliveryFailed("email", f"recipients refused: {e.recipients}"[:500], False) from e
    except (smtplib.SMTPException, OSError) as e:
        raise DeliveryFailed("email", f"{type(e).__name__}: {e}"[:500]) from e
