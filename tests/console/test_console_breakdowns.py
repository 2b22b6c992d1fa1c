"""The project page's numbers against the store's query API (an oracle the console does not use
for its breakdowns), filtered and not, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.console.console_server import Server, add_user, sign_in, upload

_SECTION = re.compile(r'<section class="breakdown" data-attribute="([a-z]+)">(.*?)</section>', re.S)
_ROW = re.compile(
    r'<td class="label">(?:<a [^>]*>)?([^<]*)(?:</a>)?</td>.*?<td class="num">(\d+)</td>', re.S
)


def _breakdowns(html: str) -> dict[str, dict[str, int]]:
    return {
        name: {v: int(n) for v, n in _ROW.findall(body)} for name, body in _SECTION.findall(html)
    }


# (filter bar text, the same filter in the API's JSON form, which uploads it keeps)
CASES: list[tuple[str, list[dict[str, str]], Callable[[dict[str, Any]], bool]]] = [
    ("", [], lambda a: True),
    ("hostname=h1", [{"attribute": "hostname", "op": "equal", "value": "h1"}],
     lambda a: a["hostname"] == "h1"),
    ("classification=abort", [{"attribute": "classification", "op": "equal", "value": "abort"}],
     lambda a: "abort" in a["labels"]),
    ("version,not-equal,2", [{"attribute": "version", "op": "not-equal", "value": "2"}],
     lambda a: a["version"] != "2"),
]  # fmt: skip


@pytest.mark.parametrize(("q", "filters", "keeps"), CASES, ids=[c[0] or "all" for c in CASES])
def test_breakdowns_match_the_query_api(
    console_store: Server,
    q: str,
    filters: list[dict[str, str]],
    keeps: Callable[[dict[str, Any]], bool],
) -> None:
    p = console_store.project()
    made = []
    for i in range(24):
        labels = ("abort", "assert") if i % 3 == 0 else ("null-deref", "memory.read")
        attrs = dict(
            application=f"app{i % 4 if i % 2 else 0}",
            hostname=f"h{i % 3}",
            version=str(i % 5),
            labels=labels,
            fingerprint=("e" if i % 3 == 0 else "f") * 64,
        )
        upload(console_store, p, **attrs)
        made.append(attrs)
    client = sign_in(console_store, add_user(console_store, f"u{uuid.uuid4().hex[:8]}", [p.name]))
    page = client.get(f"/p/{p.name}", params={"q": q})
    assert page.status_code == 200
    shown = _breakdowns(page.text)
    for name in ("application", "hostname", "version"):
        r = httpx.post(
            f"{console_store.url}/api/v1/projects/{p.name}/query",
            json={"filters": filters, "factor": name, "limit": 100},
            headers=p.headers(),
        )
        want = {row["factor"]: row["count"] for row in r.json()["rows"]}
        top = dict(Counter(want).most_common(6))
        assert shown[name] == top, name
    # Labels: each object counts under each of its labels (from what was uploaded).
    kept = [a for a in made if keeps(a)]
    labels = Counter(label for a in kept for label in a["labels"])
    assert shown["classification"] == dict(labels)
    assert f"{len(kept)} object" in page.text
