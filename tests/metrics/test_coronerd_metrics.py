"""coronerd's /metrics: a real server on loopback, real uploads and queries, scraped over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from coresnap.store import metrics
from tests.metrics.metrics_scrape import scrape
from tests.store.coronerd_server import Server, free_port, make_server
from tests.store.store_snapshots import compress, make_snapshot

OBJECTS = "/api/v1/projects/{project}/objects"
FP1, FP2 = "a1" * 32, "b2" * 32


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    # Two blobs kept per group, then none: the third upload of a group is sampled out.
    s = make_server("sqlite", tmp_path / "coronerd", None,
                    sampling={"first": 2, "per_minute": 0, "per_hour": 0})  # fmt: skip
    s.start()
    try:
        yield s
    finally:
        s.kill()


def test_uploads_groups_queries_and_errors(server: Server) -> None:
    p = server.project()
    url = server.url + OBJECTS.format(project=p.name)
    snaps = [make_snapshot(fingerprint=FP1) for _ in range(3)] + [make_snapshot(fingerprint=FP2)]
    with httpx.Client(headers=p.headers(), timeout=10) as http:
        answers = [http.post(url, content=compress(s)) for s in snaps]
        assert [a.json()["blob_kept"] for a in answers] == [True, True, False, True]
        assert http.post(url, content=compress(snaps[0])).status_code == 200  # duplicate
        assert http.post(url, content=b"not a snapshot").status_code == 422
        bad = http.post(url, content=compress(snaps[0]), headers={"X-Coroner-Token": "nope"})
        assert bad.status_code == 401
        q = http.post(
            server.url + f"/api/v1/projects/{p.name}/query", json={"factor": "fingerprint"}
        )
        assert q.status_code == 200 and q.json()["factors"] == 2
        assert http.get(server.url + f"/api/v1/projects/{p.name}/summary").status_code == 200
        assert http.get(server.url + "/no/such/page").status_code == 404
    m = scrape(server.url + "/metrics")
    counted = {
        result: m.value("coronerd_objects_ingested_total", project=p.name, result=result)
        for result in metrics.RESULTS
    }
    assert counted == {"stored": 3, "duplicate": 1, "sampled-out": 1, "rejected": 2}
    assert m.value("coronerd_groups_created_total", project=p.name) == 2
    assert m.value("coronerd_ingest_seconds_count") == 7
    assert m.value("coronerd_query_seconds_count", route="query") == 1
    assert m.value("coronerd_query_seconds_count", route="summary") == 1
    route = "/api/v1/projects/{project}/objects"
    assert m.value("coronerd_http_errors_total", status="422", route=route) == 1
    assert m.value("coronerd_http_errors_total", status="401", route=route) == 1
    assert m.value("coronerd_http_errors_total", status="404", route="unmatched") == 1
    assert m.value("coronerd_http_errors_total") == 3
    assert "python_info" in m.types  # the default registry: other modules' metrics show too
    assert m.types["coronerd_alert_deliveries"] == "counter"  # coresnap/store/alerts/metrics.py


def test_unknown_project_names_stay_out_of_labels(server: Server) -> None:
    p = server.project()
    made_up = f"nosuch{uuid.uuid4().hex[:8]}"
    with httpx.Client(headers=p.headers(), timeout=10) as http:
        for name in (made_up, p.name):  # refused: no such project, then a bad snapshot
            assert (
                http.post(server.url + OBJECTS.format(project=name), content=b"x").status_code
                >= 400
            )
    m = scrape(server.url + "/metrics")
    assert m.value("coronerd_objects_ingested_total", result="rejected") == 2
    assert m.value("coronerd_objects_ingested_total", project="other", result="rejected") == 2
    assert all(lab["project"] != made_up for lab in m.labels("coronerd_objects_ingested_total"))


def test_project_label_is_capped() -> None:
    names = [f"cap{n}-{uuid.uuid4().hex[:6]}" for n in range(metrics.MAX_PROJECTS + 5)]
    labels = [metrics.project_label(n) for n in names]
    kept = [label for label in labels if label != metrics.OTHER]
    assert len(kept) <= metrics.MAX_PROJECTS and labels.count(metrics.OTHER) >= 5
    assert all(label == name for label, name in zip(labels, names, strict=True) if label in kept)
    assert metrics.project_label(kept[0]) == kept[0]  # a labelled project keeps its name


def test_metrics_listen_serves_metrics_apart_from_the_main_port(tmp_path: Path) -> None:
    """With metrics.listen set, the coronerd process serves /metrics on that address and its
    main port answers 404 there, to loopback clients and token bearers alike."""
    port = free_port()
    s = make_server("sqlite", tmp_path / "coronerd", None,
                    metrics={"listen": f"127.0.0.1:{port}", "token": "t0ken"})  # fmt: skip
    s.start()
    try:
        p = s.project()
        upload = httpx.post(
            s.url + OBJECTS.format(project=p.name),
            content=compress(make_snapshot(fingerprint=FP1)),
            headers=p.headers(),
            timeout=10,
        )
        assert upload.status_code == 201, upload.text
        m = scrape(f"http://127.0.0.1:{port}/metrics")
        assert m.value("coronerd_objects_ingested_total", project=p.name, result="stored") == 1
        for headers in ({}, {"Authorization": "Bearer t0ken"}):
            main = httpx.get(s.url + "/metrics", headers=headers, timeout=10)
            assert main.status_code == 404, main.text
    finally:
        s.kill()
