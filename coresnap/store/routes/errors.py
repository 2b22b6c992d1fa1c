"""One JSON shape for every error: ``{"error": {"status", "code", "message", ...details}}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from coresnap.errors import StoreError

log = logging.getLogger("coronerd")

_CODES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "payload-too-large",
    422: "invalid-request",
}


def error_response(status: int, code: str, message: str, **details: Any) -> JSONResponse:
    body = {"error": {"status": status, "code": code, "message": message, **details}}
    return JSONResponse(body, status_code=status)


async def _store_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StoreError)
    details = {k: v for k, v in exc.details.items() if v is not None}
    response = error_response(exc.status, exc.code, exc.message, **details)
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, int):
        response.headers["Retry-After"] = str(retry_after)
    return response


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc.detail))


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"where": ".".join(str(p) for p in e.get("loc", ())), "what": str(e.get("msg"))}
        for e in exc.errors()[:20]
    ]
    return error_response(422, "invalid-request", "the request is malformed", problems=problems)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=exc)
    return error_response(500, "internal", "internal error (logged by coronerd)")


def install(app: FastAPI) -> None:
    """Route every error, ours and the framework's, to the one shape."""
    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
