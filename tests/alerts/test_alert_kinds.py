"""Kind options the main test does not use: JIRA bearer tokens, issue types and labels, comments
on threshold events; SMTP login; webhook headers; Slack channel."""

from __future__ import annotations

import email
import email.policy

from tests.alerts.alert_receivers import HttpReceiver, SmtpReceiver
from tests.alerts.alert_store import add_target, admin_project, put, settle
from tests.store.coronerd_server import Server

FP = "c7" * 32


def test_jira_bearer_threshold_comment_smtp_login_headers(alerting: Server) -> None:
    jira, hook, slack, smtp = (
        HttpReceiver(jira=True).start(),
        HttpReceiver().start(),
        HttpReceiver().start(),
        SmtpReceiver(),
    )
    try:
        p, admin = admin_project(alerting)
        storm = {"threshold": 3, "threshold_period": "1d"}
        jira_settings = {
            "url": jira.url + "/",
            "project_key": "OPS",
            "token": "pat-123",
            "issue_type": "Incident",
            "labels": ["crash", "prod"],
        }
        events = ["new-group", "threshold"]
        add_target(
            alerting,
            p,
            admin,
            name="j",
            kind="jira",
            settings=jira_settings,
            events=events,
            **storm,
        )
        mail = {
            "host": "127.0.0.1",
            "port": smtp.port,
            "from": "c@example.com",
            "to": "a@example.com, b@example.com",
            "username": "mailer",
            "password": "pw",
        }
        add_target(
            alerting, p, admin, name="m", kind="email", settings=mail, events=["threshold"], **storm
        )
        headers = {"url": hook.url, "headers": {"Authorization": "Bearer hook-token"}}
        add_target(alerting, p, admin, name="h", kind="webhook", settings=headers)
        chan = {"url": slack.url, "channel": "#crashes", "username": "coronerd"}
        add_target(alerting, p, admin, name="s", kind="slack", settings=chan)
        for _ in range(3):
            put(alerting, p, fingerprint=FP)
        settle(alerting, p)

        issue, comment = jira.wait(2)
        assert issue.headers["Authorization"] == "Bearer pat-123"
        fields = issue.json()["fields"]
        assert fields["issuetype"] == {"name": "Incident"} and fields["labels"] == ["crash", "prod"]
        assert fields["project"] == {"key": "OPS"}
        assert comment.path == "/rest/api/2/issue/CORE-1/comment"
        assert comment.json()["body"].startswith(f"Threshold reached in {p.name}")
        assert "threshold: 3 in 86400 s" in comment.json()["body"]

        (m,) = smtp.wait(1)
        assert smtp.logins == [("mailer", "pw")]
        assert m.recipients == ["a@example.com", "b@example.com"]
        msg = email.message_from_bytes(m.data, policy=email.policy.default)
        assert msg["X-Coresnap-Event"] == "threshold"
        assert str(msg["Subject"]).strip().startswith(f"[coresnap] Threshold reached in {p.name}")

        (h,) = hook.wait(1)
        assert h.headers["Authorization"] == "Bearer hook-token"
        assert "X-Coresnap-Signature" not in h.headers  # no secret: unsigned
        (s,) = slack.wait(1)
        assert (s.json()["channel"], s.json()["username"]) == ("#crashes", "coronerd")
    finally:
        for r in (jira, hook, slack, smtp):
            r.stop()
