"""The HTTP client of coronerd: httpx, retries with backoff, the store's errors as data.

Retried: connection failures and timeouts, 429, 502, 503, 504 (the server did not take the
request, or says so). Uploads are safe to retry because the store is idempotent by object id.
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
        why = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(5.0, 0.1 * 2**attempt) * random.uniform(0.5, 1.0))
            try:
                reply = self._http.request(method, path, **kw)
            except httpx.TransportError as e:
                why = f"{type(e).__name__}: {e}"
                continue
            if reply.status_code in RETRIED:
                why = f"HTTP {reply.status_code}"
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
