"""coronerd's Prometheus metrics, served as text at ``GET /metrics`` to loopback clients, or to
anyone with ``Authorization: Bearer <metrics.token>`` when that setting is set (the labels name
projects: see docs/store.md); or, when ``metrics.listen`` is set, only on that address (an HTTP
server thread of the same process, coresnapd's :class:`~coresnap.daemon.metrics.MetricsServer`),
and the main port's ``/metrics`` answers 404.

Everything lives on prometheus-client's default registry, so the metrics other modules define
there (``coronerd_alert_deliveries_total`` of coresnap/store/alerts/metrics.py) are served too.
Counts are per process: several coronerd processes in front of one database each report their
own share (sum them). :func:`install` adds one ASGI middleware (latency, errors, rejected
uploads) and the route; the upload route calls :func:`ingested` with what it stored.

Labels are bounded: ``project`` takes at most :data:`MAX_PROJECTS` values (then ``other``);
``route`` is a route template of the app (``unmatched`` for any other path), ``status`` an
HTTP status, ``result`` one of :data:`RESULTS`.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import threading
import time

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coresnap import config as configuration
from coresnap.daemon.metrics import MetricsServer
from coresnap.errors import AuthError, ConfigError
from coresnap.store.routes import API
from coresnap.store.routes import query as query_routes

MAX_PROJECTS = 50
OTHER = "other"
RESULTS = ("stored", "duplicate", "sampled-out", "rejected")
INGEST_ROUTE = ("POST", API + "/projects/{project}/objects")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

OBJECTS = Counter(
    "coronerd_objects_ingested",
    "Uploads by project and result: stored (indexed, blob kept), duplicate (an id already "
    "stored: nothing changed), sampled-out (indexed, blob not kept), rejected (refused: "
    "bad token, bad snapshot, too large)",
    ["project", "result"],
)
GROUPS = Counter("coronerd_groups_created", "New groups (fingerprints never seen)", ["project"])
INGEST_SECONDS = Histogram(
    "coronerd_ingest_seconds", "Duration of upload requests (any result)", buckets=LATENCY_BUCKETS
)
QUERY_SECONDS = Histogram(
    "coronerd_query_seconds",
    "Duration of query requests (query, attributes, summary)",
    ["route"],
    buckets=LATENCY_BUCKETS,
)
ERRORS = Counter("coronerd_http_errors", "Responses with status 400 or more", ["status", "route"])

_QUERY_PATHS = {str(getattr(r, "path", "")) for r in query_routes.router.routes}
_projects: set[str] = set()
_projects_lock = threading.Lock()


def project_label(project: str, add: bool = True) -> str:
    """``project`` while fewer than MAX_PROJECTS are labelled, else ``other``; with ``add``
    False only an already labelled project keeps its name (names from refused requests may be
    anything)."""
    with _projects_lock:
        if project in _projects:
            return project
        if add and len(_projects) < MAX_PROJECTS:
            _projects.add(project)
            return project
    return OTHER


def ingested(project: str, created: bool, blob_kept: bool, group_created: bool) -> None:
    """Count one accepted upload to ``project`` (a name the token was checked against)."""
    label = project_label(project)
    result = "duplicate" if not created else "stored" if blob_kept else "sampled-out"
    OBJECTS.labels(project=label, result=result).inc()
    if group_created:
        GROUPS.labels(project=label).inc()


class _Measure:
    """Pure ASGI middleware: times every HTTP request and counts its errors by route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception escaping the app becomes a 500 further out

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            _observe(scope, status, time.perf_counter() - started)


def _observe(scope: Scope, status: int, seconds: float) -> None:
    route = getattr(scope.get("route"), "path", None)
    if (scope["method"], route) == INGEST_ROUTE:
        INGEST_SECONDS.observe(seconds)
        if status >= 400:
            project = str(scope.get("path_params", {}).get("project", ""))
            OBJECTS.labels(project=project_label(project, add=False), result="rejected").inc()
    elif route in _QUERY_PATHS:
        QUERY_SECONDS.labels(route=str(route).rsplit("/", 1)[-1]).observe(seconds)
    if status >= 400:
        ERRORS.labels(status=str(status), route=route or "unmatched").inc()


router = APIRouter(include_in_schema=False)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """The default registry in the Prometheus text format; raises AuthError (401) for a
    client that is neither on loopback (no ``metrics.token``) nor bearing the token."""
    token = str(request.app.state.context.config["metrics.token"])
    if not _allowed(request, token):
        raise AuthError(401, "metrics need Authorization: Bearer <metrics.token> (or loopback)")
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def _allowed(request: Request, token: str) -> bool:
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def install(app: FastAPI, route: bool = True) -> None:
    """Measure every request of ``app``, and serve ``/metrics`` there when ``route``."""
    if route:
        app.include_router(router)
    app.add_middleware(_Measure)


def listen_address(text: str) -> tuple[str, int] | None:
    """``metrics.listen``: ``host:port`` (``[v6]:port``, a host needed); None when empty.
    Raises ConfigError."""
    try:
        return configuration.address(text, any_host=None)
    except ValueError as e:
        raise ConfigError("metrics.listen", str(e)) from e


def serve(listen: tuple[str, int], log: logging.Logger) -> MetricsServer | None:
    """Serve the default registry at ``/metrics`` on ``listen``; None (logged) when the address
    cannot be bound: the store matters more than its metrics."""
    return MetricsServer.serving(listen, REGISTRY, log)
