"""The alert targets API: scopes, validation, secrets hidden, changes, failures listed."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator

import httpx
import pytest

from tests.alerts.alert_receivers import HttpReceiver
from tests.alerts.alert_store import add_target, admin_project, api, deliveries, put, settle
from tests.store.coronerd_server import Server

FP_A, FP_B = "d4" * 32, "e5" * 32


@pytest.fixture
def hook() -> Iterator[HttpReceiver]:
    r = HttpReceiver().start()
    try:
        yield r
    finally:
        r.stop()


def test_scopes_validation_and_hidden_secrets(alerting: Server, hook: HttpReceiver) -> None:
    p, admin = admin_project(alerting)
    url = api(alerting, p)
    spec = {"name": "hook", "kind": "webhook", "settings": {"url": hook.url, "secret": "k1"}}
    as_reader, as_admin = p.headers("reader"), {"X-Coroner-Token": admin}
    assert httpx.post(url, json=spec, headers=as_reader).status_code == 403
    assert httpx.get(url, headers=p.headers("submitter")).status_code == 403
    assert httpx.get(url).status_code == 401
    assert httpx.post(url, json=spec, headers=as_admin).status_code == 201
    again = httpx.post(url, json=spec, headers=as_admin)
    assert again.status_code == 422 and again.json()["error"]["key"] == "name"

    bad = {
        "kind": ({"kind": "pager"}, "kind"),
        "no url": ({"settings": {}}, "url"),
        "bad url": ({"settings": {"url": "file:///etc/passwd"}}, "url"),
        "typo": ({"settings": {"url": hook.url, "secrte": "x"}}, "secrte"),
        "filter": ({"filter": ["hostname,matches,x"]}, "filter"),
        # RE2 runs (a+)+ in linear time: a backreference is what it cannot run.
        "regex": ({"filter": ["hostname,regular-expression,(a)\\1"]}, "filter"),
        "threshold": ({"events": ["threshold"]}, "threshold"),
        "reserved": ({"name": "deliveries"}, "name"),
    }
    for what, (change, key) in bad.items():
        reply = httpx.post(url, json={**spec, "name": "other", **change}, headers=as_admin)
        assert reply.status_code == 422, (what, reply.text)
        err = reply.json()["error"]
        assert err.get("key") == key or key in str(err.get("problems")), (what, err)

    slack = {"name": "s", "kind": "slack", "settings": {"url": "https://hooks.slack.com/T/B/xyz"}}
    assert httpx.post(url, json=slack, headers=as_admin).status_code == 201
    listed = httpx.get(url, headers=as_reader).json()["targets"]
    assert [t["name"] for t in listed] == ["hook", "s"]
    assert listed[0]["settings"] == {"url": hook.url, "secret": "********"}
    assert listed[1]["settings"]["url"] == "https://hooks.slack.com/********"
    assert "xyz" not in httpx.get(url + "/s", headers=as_reader).text


def test_change_keeps_unsent_secrets_and_delete(alerting: Server, hook: HttpReceiver) -> None:
    p, admin = admin_project(alerting)
    url, as_admin = api(alerting, p), {"X-Coroner-Token": admin}
    add_target(
        alerting, p, admin, name="hook", kind="webhook", settings={"url": hook.url, "secret": "k1"}
    )
    changed = httpx.patch(
        url + "/hook",
        json={"settings": {"url": hook.url + "/v2"}, "events": ["new-group"], "min_interval": "5m"},
        headers=as_admin,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["min_interval"] == 300 and changed.json()["events"] == ["new-group"]
    put(alerting, p, fingerprint=FP_A)
    (got,) = hook.wait(1)
    assert got.path == "/v2"  # the new URL, signed with the secret that was not sent back
    want = "sha256=" + hmac.new(b"k1", got.body, hashlib.sha256).hexdigest()
    assert got.headers["X-Coresnap-Signature"] == want
    off = httpx.patch(url + "/hook", json={"enabled": False}, headers=as_admin)
    assert off.json()["enabled"] is False
    put(alerting, p, fingerprint=FP_B)
    assert httpx.delete(url + "/hook", headers=p.headers("reader")).status_code == 403
    assert httpx.delete(url + "/hook", headers=as_admin).status_code == 204
    missing = httpx.get(url + "/hook", headers=as_admin)
    assert (
        missing.status_code == 404 and missing.json()["error"]["code"] == "alert-target-not-found"
    )
    assert len(hook.requests) == 1


def test_refused_messages_fail_at_once_and_are_listed(alerting: Server) -> None:
    refusing = HttpReceiver(status=400).start()
    try:
        p, admin = admin_project(alerting)
        add_target(alerting, p, admin, name="bad", kind="webhook", settings={"url": refusing.url})
        put(alerting, p, fingerprint=FP_A)
        (row,) = settle(alerting, p)
        assert (row["state"], row["attempts"], row["target"]) == ("failed", 1, "bad")
        assert row["last_error"].startswith("webhook: HTTP 400")
        assert deliveries(alerting, p, state="failed") == [row]
        assert deliveries(alerting, p, state="sent") == []
    finally:
        refusing.stop()
