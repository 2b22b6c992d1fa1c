"""The human text of an alert (Slack, JIRA, e-mail share it): a title and summary lines."""

from __future__ import annotations

from typing import Any

TITLES = {
    "new-group": "New fault in {project}",
    "regression": "Regression in {project}",
    "threshold": "Threshold reached in {project}",
}
TOP_FRAMES = 5


def title(payload: dict[str, Any]) -> str:
    """``New fault in blackhole: thread_fn (use-after-free)``."""
    head = TITLES.get(payload["event"], "Alert in {project}").format(project=payload["project"])
    frames = payload["group"].get("frames") or []
    labels = payload["object"].get("classification") or []
    top = frames[0] if frames else payload["group"]["fingerprint"][:12]
    return f"{head}: {top}" + (f" ({', '.join(labels)})" if labels else "")


def facts(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs: group, classification, host, application, version, occurrences."""
    group, obj = payload["group"], payload["object"]
    out = [("Group", group["fingerprint"])]
    if obj.get("classification"):
        out.append(("Classification", ", ".join(obj["classification"])))
    for label, key in (
        ("Host", "hostname"),
        ("Application", "application"),
        ("Version", "version"),
    ):
        if obj.get(key) is not None:
            out.append((label, str(obj[key])))
    occurrences = str(group["count"])
    if payload["event"] == "threshold" and payload.get("threshold"):
        t = payload["threshold"]
        occurrences += f" (threshold: {t['count']} in {t['period']:g} s)"
    out.append(("Occurrences", occurrences))
    out.append(("Object", obj["id"]))
    return out


def frames(payload: dict[str, Any]) -> list[str]:
    """The top frames of the group's callstack."""
    return list(payload["group"].get("frames") or [])[:TOP_FRAMES]


def text(payload: dict[str, Any]) -> str:
    """Plain text: title, facts, frames, console link."""
    lines = [title(payload), ""]
    lines += [f"{label}: {value}" for label, value in facts(payload)]
    lines += ["", "Frames:", *(f"  {f}" for f in frames(payload))]
    lines += ["", f"Console: {payload['group']['url']}"]
    if payload["object"].get("url"):
        lines.append(f"Snapshot: {payload['object']['url']}")
    return "\n".join(lines) + "\n"
