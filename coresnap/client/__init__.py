"""The coroner client: read ``coroner.cf``, talk to coronerd (put, list, get, view, summary).

``put_snapshot`` is the uploader the host daemon calls.
"""

from __future__ import annotations

from coresnap.client.api import put_snapshot

__all__ = ["put_snapshot"]
