"""The HTTP client of coronerd: httpx, retries with backoff, the store's errors as data.

Retried: connection failures and timeouts, 429, 502, 503, 504 (the server did not take the
request, or says so), after the server's ``Retry-After`` when it gives one (capped at
:data:`MAX_RETRY_AFTER`), else with exponential backoff. Not retried: a 503 ``query-timeout``
(the same query would be stopped again: it is the caller's to narrow). Uploads are safe to
retry because the store is idempotent by object id.
Every error answer becomes a :class:`~coresnap.errors.StoreError` carrying the server's status,
code and message.
"""

from __future__ import annotations

import random
import time
from typing import Any

import httpx

from coresnap.errors import StoreError, StoreUnavailable

RETRIED = {429, 502, 503, 504}
NOT_RETRIED_CODES = {"query-timeout"}
MAX_RETRY_AFTER = 30.0


class Client:
    """One coronerd endpoint with a token."""

    def __init__(
        self,
        url: str,
        token: str,
        verify: bool | str = True,
        retries: int = 6,
        timeout: float = 30.0,
    ) -> None:
        self.url = url
        self.retries = retries
        self._http = httpx.Client(
            base_url=url,
            # Building a TLS context loads the CA bundle (tens of ms): only for https.
            verify=verify if url.startswith("https://") else False,
            timeout=timeout,
            headers={"X-Coroner-Token": token, "User-Agent": "coroner/1"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """Send a request, retrying as described above.

        Raises StoreUnavailable after the last retry, StoreError for an error answer.
        """
        why, asked = "", 0.0
        for attempt in range(self.retries + 1):
            if attempt:
                backoff = min(5.0, 0.1 * 2**attempt) * random.uniform(0.5, 1.0)
                time.sleep(max(backoff, asked))
            try:
                reply = self._http.request(method, path, **kw)
            except httpx.TransportError as e:
                why, asked = f"{type(e).__name__}: {e}", 0.0
                continue
            if reply.status_code in RETRIED and _code(reply) not in NOT_RETRIED_CODES:
                why, asked = f"HTTP {reply.status_code}", _retry_after(reply)
                continue
            if reply.status_code >= 400:
                raise _error(reply)
            return reply
        raise StoreUnavailable(self.url + path, f"{why} (after {self.retries} retries)")

    def json(self, method: str, path: str, **kw: Any) -> Any:
        return self.request(method, path, **kw).json()


def _error(reply: httpx.Response) -> StoreError:
    try:
        body = reply.json()["error"]
        message, code = str(body["message"]), str(body["code"])
    except (ValueError, KeyError, TypeError):
        message, code = reply.text[:200] or reply.reason_phrase, "error"
    err = StoreError(f"HTTP {reply.status_code}: {message}", code=code)
    err.status, err.code = reply.status_code, code
    return err


def _code(reply: httpx.Response) -> str | None:
    """The store's error code of an error answer (None when it has none)."""
    try:
        code = reply.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, str) else None


def _retry_after(reply: httpx.Response) -> float:
    """The seconds the server asks to wait (``Retry-After`` in seconds; an HTTP date or
    anything else counts as not asked), at most MAX_RETRY_AFTER."""
    try:
        asked = float(reply.headers.get("retry-after", ""))
    except ValueError:
        return 0.0
    return min(max(asked, 0.0), MAX_RETRY_AFTER) if asked == asked else 0.0
