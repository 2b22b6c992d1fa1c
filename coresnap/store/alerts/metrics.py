"""Prometheus counters of alert deliveries, on the default registry (served at ``/metrics``).

Labels are bounded: ``kind`` is one of the four target kinds, ``result`` one of RESULTS.
"""

from __future__ import annotations

from prometheus_client import Counter

RESULTS = ("sent", "retry", "failed")

DELIVERIES = Counter(
    "coronerd_alert_deliveries",
    "Alert delivery attempts by target kind and result (sent, retry: failed and retried later, "
    "failed: given up)",
    ["kind", "result"],
)


def count(kind: str, result: str) -> None:
    """Count one delivery attempt of ``kind`` that ended in ``result`` (one of RESULTS)."""
    assert result in RESULTS
    DELIVERIES.labels(kind=kind, result=result).inc()
