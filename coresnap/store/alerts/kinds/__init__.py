"""One module per kind of alert target; each has ``send(out: Outgoing) -> None``.

``send`` raises :class:`~coresnap.errors.DeliveryFailed` (``retry`` says whether a later attempt
may succeed: a receiver that is down, a 5xx, a 429 — yes; a 4xx that names a bad request or bad
credentials — no). Every network call has a timeout (``alerting.timeout``). What a sender gets,
and the POST most of them make, are in :mod:`.outgoing`.
"""

from __future__ import annotations

from collections.abc import Callable

from coresnap.store.alerts.kinds.outgoing import Outgoing


def senders() -> dict[str, Callable[[Outgoing], None]]:
    """The send function of each kind."""
    from coresnap.store.alerts.kinds import jira, slack, smtp, webhook

    return {"slack": slack.send, "jira": jira.send, "webhook": webhook.send, "email": smtp.send}
