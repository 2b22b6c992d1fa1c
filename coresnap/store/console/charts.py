"""Charts as inline SVG, drawn on the server (no JavaScript, no external assets)."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup


def sparkline(counts: Sequence[int] | None, width: int = 160, height: int = 28) -> Markup:
    """A histogram of ``counts`` as bars, scaled to the largest bucket."""
    counts = list(counts or [])
    if not counts:
        return Markup("")
    top = max(counts) or 1
    step = width / len(counts)
    bars = []
    for i, n in enumerate(counts):
        if n:
            h = max(1.0, (height - 2) * n / top)
            bars.append(
                f'<rect x="{i * step:.1f}" y="{height - h:.1f}" width="{max(step - 1, 1):.1f}" '
                f'height="{h:.1f}"><title>{n}</title></rect>'
            )
    return Markup(
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="occurrences over time, peak {top}">'
        f'<line x1="0" y1="{height - 0.5}" x2="{width}" y2="{height - 0.5}" class="axis"/>'
        + "".join(bars)
        + "</svg>"
    )


def timechart(counts: Sequence[int] | None, start: str, end: str) -> Markup:
    """A wider histogram with its peak and both ends of the window labelled."""
    counts = list(counts or [])
    width, height = 720, 120
    chart = sparkline(counts, width, height - 18)
    peak = max(counts) if counts else 0
    return Markup(
        f'<figure class="timechart">{chart}<figcaption><span>{start}</span>'
        f"<span>peak {peak} per bucket</span><span>{end}</span></figcaption></figure>"
    )


def bars(values: Sequence[Sequence[object]] | None, total: int) -> list[tuple[str, int, float]]:
    """(value, count, percent of ``total``) for a top-N breakdown."""
    out = []
    for value, n in values or []:
        count = int(n)  # type: ignore[call-overload]
        label = "(not set)" if value is None else str(value)
        out.append((label, count, 100.0 * count / total if total else 0.0))
    return out
