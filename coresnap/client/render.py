"""``coroner list`` output, in the seeds' layout (seed 000/002; object lines end in a space):

[b3e85c13…]
  Date: Sun Apr 24 17:32:11 2016 - Sun Apr 24 18:05:26 2016
  Occurrences: 20 (over 0 days)
  Mar 25 :                                                      █ : Apr 24
  Attributes:
    application (1 buckets)
      simple                                        20 100.00% ███████████████
  Classification:
    memory.write (20 buckets)
  Frames:
    thread_fn
  Objects:
    [431991dbda48453fbddf92d8700611ba] (Sun Apr 24 18:05:26 2016)
      Classification: memory.write use-after-free
      Attributes: hostname=broadwell application=simple
"""

from __future__ import annotations

from typing import Any

from coresnap import timetext

LEVELS = " ▁▂▃▄▅▆▇█"
BAR = 15
VALUE_WIDTH = 45
ATTRIBUTES = ("hostname", "application")


def list_query(
    filters: list[dict[str, Any]],
    factor: str,
    age: str | None,
    recent: bool,
    groups: int,
    instances: int,
) -> dict[str, Any]:
    """The JSON query ``coroner list`` sends (one round trip gives everything it prints)."""
    aggregates: list[dict[str, Any]] = [{"op": "histogram"}]
    aggregates += [{"op": "distribution", "attribute": a, "limit": 5} for a in ATTRIBUTES]
    aggregates.append({"op": "distribution", "attribute": "classification", "limit": 10})
    return {
        "filters": filters,
        "age": age,
        "factor": factor,
        "aggregates": aggregates,
        "sort": "-last_seen" if recent else "-count",
        "limit": groups,
        "objects": instances,
    }


def date(ts: float) -> str:
    return timetext.local(ts)


def histogram(counts: list[int]) -> str:
    """One character per bucket, the tallest bucket a full block, empty buckets blank."""
    top = max(counts, default=0)
    if top == 0:
        return " " * len(counts)
    steps = len(LEVELS) - 1
    return "".join(LEVELS[0 if n == 0 else max(1, round(n * steps / top))] for n in counts)


def _bucket_row(value: Any, n: int, total: int) -> str:
    share = 100.0 * n / total if total else 0.0
    bar = "█" * max(1, round(BAR * n / total)) if total and n else ""
    text = "null" if value is None else str(value)
    return f"      {text:<{VALUE_WIDTH}.{VALUE_WIDTH}}{n:>3} {share:6.2f}% {bar}"


def render_row(row: dict[str, Any], window: list[float]) -> list[str]:
    """The lines of one group (factor bucket)."""
    aggs = row.get("aggregates", {})
    days = timetext.days(row["first_seen"], row["last_seen"])
    lines = [
        f"[{row['factor']}]",
        f"  Date: {date(row['first_seen'])} - {date(row['last_seen'])}",
        f"  Occurrences: {row['count']} (over {days} days)",
    ]
    if "histogram" in aggs:
        start, end = (timetext.local_day(t) for t in window)
        lines.append(f"  {start} : {histogram(aggs['histogram'])} : {end}")
    lines.append("  Attributes:")
    for name in ATTRIBUTES:
        dist = aggs.get(f"distribution({name})")
        if dist:
            lines.append(f"    {name} ({dist['buckets']} buckets)")
            lines += [_bucket_row(v, n, row["count"]) for v, n in dist["values"]]
    dist = aggs.get("distribution(classification)")
    if dist:
        lines.append("  Classification:")
        lines += [f"    {'null' if v is None else v} ({n} buckets)" for v, n in dist["values"]]
    frames = (row.get("group") or {}).get("frames") or []
    if frames:
        lines.append("  Frames:")
        lines += [f"    {f}" for f in frames]
    if row.get("objects"):
        lines.append("  Objects:")
        for obj in row["objects"]:
            lines += _object_lines(obj)
    return lines


def _object_lines(obj: dict[str, Any]) -> list[str]:
    attrs = "".join(f"{k}={v} " for k, v in obj["attributes"].items() if v is not None)
    labels = "".join(f"{c} " for c in obj["classification"])
    kept = "" if obj.get("blob_kept", True) else " (snapshot not kept: sampled)"
    return [
        f"    [{obj['object']}] ({date(obj['timestamp'])}){kept}",
        f"      Classification: {labels}",
        f"      Attributes: {attrs}",
    ]


def render_list(result: dict[str, Any]) -> str:
    """The whole ``coroner list`` output for a query answer."""
    lines: list[str] = []
    for row in result["rows"]:
        lines += render_row(row, result["window"])
    if not result["rows"]:
        lines.append("No matching objects.")
    return "\n".join(lines) + "\n"
