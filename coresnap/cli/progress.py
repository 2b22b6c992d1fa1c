"""Progress of long commands on stderr: a rich bar on a terminal, a plain line a second (and
the first and last) otherwise, so logs and pipes stay readable. Used by ``coronerd regroup``
and ``retention``, and ``coresnap reclassify``."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator

# What a command calls with (step, done, total) while it works.
Progress = Callable[[str, int, int], None]


@contextlib.contextmanager
def progress(command: str, terminal: bool | None = None, lines: bool = True) -> Iterator[Progress]:
    """A :data:`Progress` for ``command`` (``terminal``: default, whether stderr is one;
    ``lines``: False, nothing off a terminal)."""
    if sys.stderr.isatty() if terminal is None else terminal:
        from rich.console import Console
        from rich.progress import Progress as Bar

        tasks: dict[str, object] = {}
        with Bar(console=Console(stderr=True), transient=True) as bar:

            def draw(step: str, done: int, total: int) -> None:
                if step not in tasks:
                    tasks[step] = bar.add_task(step, total=total)
                bar.update(tasks[step], completed=done, total=total)  # type: ignore[arg-type]

            yield draw
        return
    if not lines:
        yield lambda step, done, total: None
        return
    last = [0.0]

    def line(step: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or done == 1 or now - last[0] >= 1.0:
            last[0] = now
            print(f"{command}: {step} {done}/{total}", file=sys.stderr, flush=True)

    yield line
