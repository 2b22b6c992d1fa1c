"""Alerts end to end: real coronerd (SQLite and PostgreSQL), real snapshots, real receivers on
loopback for Slack, JIRA, a webhook and SMTP."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Connection, select

from coresnap.store import auth
from coresnap.store.db.engine import make_engine
from coresnap.store.db.models import group_events, group_tickets, groups
from tests.alerts.alert_receivers import HttpReceiver, SmtpReceiver
from tests.alerts.alert_store import CONSOLE, add_target, admin_project, put, set_state, settle
from tests.store.coronerd_server import Project, Server
from tests.store.store_snapshots import group_key

BUG_A, BUG_B = "a1" * 32, "b2" * 32  # make_snapshot seeds; coronerd's keys of their groups:
B = {"frames": ("parse_header", "main"), "labels": ("null-deref",)}
FP_A, FP_B = group_key(fingerprint=BUG_A), group_key(fingerprint=BUG_B, **B)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "alerts.md"
SECRET = "s3cr3t-webhook-key"


@dataclass
class Receivers:
    slack: HttpReceiver
    jira: HttpReceiver
    hook: HttpReceiver
    smtp: SmtpReceiver


@pytest.fixture
def rx() -> Iterator[Receivers]:
    made = Receivers(
        HttpReceiver().start(),
        HttpReceiver(jira=True).start(),
        HttpReceiver().start(),
        SmtpReceiver(),
    )
    try:
        yield made
    finally:
        for r in (made.slack, made.jira, made.hook, made.smtp):
            r.stop()


def all_kinds(server: Server, rx: Receivers) -> Project:
    """A project with one target of each kind, pointed at ``rx``."""
    p, admin = admin_project(server)
    add_target(server, p, admin, name="team-slack", kind="slack", settings={"url": rx.slack.url})
    jira = {"url": rx.jira.url, "project_key": "CORE", "user": "bot@example.com", "token": "tok"}
    add_target(server, p, admin, name="jira", kind="jira", settings=jira)
    hook = {"url": rx.hook.url + "/hook", "secret": SECRET}
    add_target(server, p, admin, name="hook", kind="webhook", settings=hook)
    mail = {
        "host": "127.0.0.1",
        "port": rx.smtp.port,
        "from": "coronerd@example.com",
        "to": ["oncall@example.com", "dev@example.com"],
    }
    add_target(server, p, admin, name="mail", kind="email", settings=mail)
    return p


def quiet(rx: Receivers, seconds: float = 1.5) -> tuple[int, int, int, int]:
    """What the receivers got, after a pause in which nothing more may arrive."""
    time.sleep(seconds)
    return len(rx.slack.requests), len(rx.jira.requests), len(rx.hook.requests), len(rx.smtp.mails)


def test_one_message_per_new_group_and_one_per_regression(
    alerting: Server, rx: Receivers, tmp_path: Path
) -> None:
    p = all_kinds(alerting, rx)
    before = _deliveries_metric(alerting)
    for _ in range(3):
        put(alerting, p, fingerprint=BUG_A, version="1.2", hostname="db1")
    put(alerting, p, fingerprint=BUG_B, **B)
    rows = settle(alerting, p)
    assert sorted((r["target"], r["state"]) for r in rows) == sorted(
        (t, "sent") for t in ("team-slack", "jira", "hook", "mail") for _ in range(2)
    )
    assert quiet(rx) == (2, 2, 2, 2)

    # Slack: text + blocks naming project, group, frames, classification, host, console link.
    slack = [r.json() for r in rx.slack.requests]
    a = next(m for m in slack if FP_A in json.dumps(m))
    assert a["text"].startswith(f"New fault in {p.name}: thread_fn (memory.write, use-after-free)")
    blocks = json.dumps(a["blocks"])
    for fact in (FP_A, "thread_fn", "use-after-free", "db1", "1.2"):
        assert fact in blocks
    assert f"{CONSOLE}/p/{p.name}/g/{FP_A}" in a["text"] + blocks

    # Webhook: JSON with event, project, group, object, attributes; HMAC-SHA256 signature.
    for r in rx.hook.requests:
        want = "sha256=" + hmac.new(SECRET.encode(), r.body, hashlib.sha256).hexdigest()
        assert r.headers["X-Coresnap-Signature"] == want and r.path == "/hook"
        assert r.headers["X-Coresnap-Event"] == "new-group"
    hooks = {r.json()["group"]["fingerprint"]: r.json() for r in rx.hook.requests}
    assert set(hooks) == {FP_A, FP_B}
    b = hooks[FP_B]
    assert (b["event"], b["project"], b["object"]["classification"]) == (
        "new-group",
        p.name,
        ["null-deref"],
    )
    assert b["group"]["frames"][0] == "parse_header" and b["group"]["count"] == 1
    assert b["attributes"]["application"] == "simple"

    # JIRA: two issues (basic auth), keys kept per group.
    assert [r.path for r in rx.jira.requests] == ["/rest/api/2/issue"] * 2
    auth = rx.jira.requests[0].headers["Authorization"]
    assert base64.b64decode(auth.split()[1]) == b"bot@example.com:tok"
    fields = rx.jira.requests[0].json()["fields"]
    assert fields["project"] == {"key": "CORE"} and fields["issuetype"] == {"name": "Bug"}
    assert fields["summary"].startswith(f"New fault in {p.name}")
    tickets = _tickets(alerting, p)
    assert sorted(tickets.values()) == ["CORE-1", "CORE-2"] and set(tickets) == {FP_A, FP_B}

    # E-mail: two mails to both recipients.
    mails = rx.smtp.mails
    assert all(m.recipients == ["oncall@example.com", "dev@example.com"] for m in mails)
    parsed = [email.message_from_bytes(m.data, policy=email.policy.default) for m in mails]
    assert all(
        str(m["Subject"]).strip().startswith(f"[coresnap] New fault in {p.name}") for m in parsed
    )

    # Regression: resolve A in 1.2; 1.2 again stays quiet; 1.3 reopens: one message per target,
    # a comment on A's JIRA issue.
    set_state(alerting, p, FP_A, "resolved")
    put(alerting, p, fingerprint=BUG_A, version="1.2")
    put(alerting, p, fingerprint=BUG_A, version="1.3")
    settle(alerting, p)
    assert quiet(rx) == (3, 3, 3, 3)
    assert rx.slack.requests[-1].json()["text"].startswith(f"Regression in {p.name}")
    assert rx.hook.requests[-1].json()["event"] == "regression"
    assert rx.hook.requests[-1].json()["object"]["version"] == "1.3"
    assert rx.jira.requests[-1].path == f"/rest/api/2/issue/{tickets[FP_A]}/comment"
    assert "Regression" in rx.jira.requests[-1].json()["body"]
    last = email.message_from_bytes(rx.smtp.mails[-1].data, policy=email.policy.default)
    assert str(last["Subject"]).strip().startswith(f"[coresnap] Regression in {p.name}")

    after = _deliveries_metric(alerting)  # scraped over HTTP: 3 messages per kind, all sent
    kinds = ("slack", "jira", "webhook", "email")
    assert {k: after.get((k, "sent"), 0) - before.get((k, "sent"), 0) for k in kinds} == {
        k: 3 for k in kinds
    }

    examples = tmp_path / "examples"  # the payloads docs/alerts.md shows come from here
    examples.mkdir()
    for kind, r in (("slack", rx.slack), ("jira", rx.jira), ("webhook", rx.hook)):
        body = [{"path": q.path, "body": q.json()} for q in r.requests]
        (examples / f"{kind}.json").write_text(json.dumps(body, indent=2))
    (examples / "mail.eml").write_bytes(rx.smtp.mails[-1].data)

    # docs/alerts.md shows payloads of this shape: they cannot drift from what is sent.
    assert _shape(_documented("### Webhook")) == _shape(rx.hook.requests[0].json())
    assert _shape(_documented("### Slack")) == _shape(slack[0])
    assert _shape(_documented("### JIRA")) == _shape(rx.jira.requests[0].json())


def _tickets(server: Server, p: Project) -> dict[str, str]:
    engine = make_engine(server.database_url)
    try:
        with engine.connect() as conn:
            q = (
                select(groups.c.fingerprint, group_tickets.c.key)
                .join(group_tickets, group_tickets.c.group_id == groups.c.id)
                .where(groups.c.fingerprint.in_([FP_A, FP_B]))
                .where(groups.c.project_id == _pid(conn, p))
            )
            found = {fp: key for fp, key in conn.execute(q)}
            ev = select(group_events.c.detail).where(group_events.c.action == "jira")
            recorded = set(conn.execute(ev).scalars())
    finally:
        engine.dispose()
    assert set(found.values()) <= recorded
    return found


def _pid(conn: Connection, p: Project) -> int:
    pid = auth.project_id(conn, p.name)
    assert pid is not None
    return pid


def _documented(heading: str) -> object:
    """The first JSON block under ``heading`` in docs/alerts.md."""
    text = DOCS.read_text().split(heading, 1)[1]
    return json.loads(text.split("```json\n", 1)[1].split("\n```\n", 1)[0])


def _shape(value: object) -> object:
    """Keys and types, not values."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return "number" if isinstance(value, int | float) else type(value).__name__


def _deliveries_metric(server: Server) -> dict[tuple[str, str], float]:
    """coronerd_alert_deliveries_total by (kind, result), from a scrape of /metrics."""
    text = httpx.get(server.url + "/metrics", timeout=10).text
    return {
        (s.labels["kind"], s.labels["result"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "coronerd_alert_deliveries_total"
    }
