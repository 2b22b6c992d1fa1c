"""Alerts: tell people about new groups, regressions and thresholds (Slack, JIRA, webhook, e-mail).

The data flow, one module each:

``targets``  alert targets per project (config file ``[[alerts]]`` and the HTTP API) →
``outbox``   inside the ingest transaction: which targets an object triggers, one row each in
             ``alert_deliveries`` (ingest only inserts rows, it never waits on a receiver) →
``sender``   a thread that claims due rows, delivers them through ``kinds/`` (one module per
             kind) and records sent / retry with backoff / failed →
``metrics``  ``coronerd_alert_deliveries_total{kind,result}``.
``api``      the HTTP routes under ``/api/v1/projects/{project}/alerts``.
"""
