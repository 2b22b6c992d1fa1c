"""Query slots: the requests whose cost a client chooses (queries, summaries, the console's
project and group pages) run at most ``limits.concurrent_queries`` at a time per process.

A query may run up to the statement timeout; without a bound, a dozen of them hold every pooled
database connection (and the CPUs) for that long, and uploads, the health check and sign-in
wait behind them. A request takes a slot in the event loop before it gets a worker thread or a
connection; one that finds no slot free within ``limits.query_wait`` seconds is answered 503
``busy`` with a Retry-After, having held neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator

from coresnap.errors import QueriesBusy

# Seconds a request waits for a free slot (in the event loop: no thread, no connection): the
# default of ``limits.query_wait``.
WAIT = 5.0


class QuerySlots:
    """``slots`` slots (0: no bound); a busy answer says to retry after ``retry_after`` s."""

    def __init__(self, slots: int, retry_after: float, wait: float = WAIT) -> None:
        self.slots, self.wait = slots, wait
        self.retry_after = max(1, math.ceil(retry_after))
        self._free: asyncio.Semaphore | None = None  # made in the event loop that uses it

    async def acquire(self) -> None:
        """Take a slot (give it back with :meth:`release`); raises QueriesBusy when none
        frees up within ``wait`` seconds."""
        if self.slots <= 0:
            return
        if self._free is None:
            self._free = asyncio.Semaphore(self.slots)
        try:
            await asyncio.wait_for(self._free.acquire(), self.wait)
        except TimeoutError:
            raise QueriesBusy(self.slots, self.wait, self.retry_after) from None

    def release(self) -> None:
        if self.slots > 0 and self._free is not None:
            self._free.release()

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """Hold a slot for the ``async with`` block (raises as :meth:`acquire`)."""
        await self.acquire()
        try:
            yield
        finally:
            self.release()
