"""One table from domain errors to HTTP responses, and the error body every endpoint uses.

Body: ``{"error": {"code": ..., "message": ..., "field": ...}}``. Unexpected
exceptions become a 500 with a request id and no detail, and are logged.
"""

from __future__ import annotations

import logging
from html import escape
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from passgate.domain import errors as e

log = logging.getLogger("passgate.web")

STATUS: dict[type[e.PassgateError], int] = {
    e.ValidationError: 422,
    e.NotFound: 404,
    e.Conflict: 409,
    e.PermissionDenied: 403,
    e.Unauthenticated: 401,
    e.PreconditionFailed: 409,
    e.TooManyRequests: 429,
}


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def status_for(exc: e.PassgateError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def _field_of(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    if not parts:
        return None
    out = parts[0]
    for p in parts[1:]:
        out += f"[{p}]" if p.isdigit() else f".{p}"
    return out


def _html_error(exc: e.PassgateError, status: int) -> HTMLResponse:
    # Dashboard users get a page, not JSON; the message is escaped, never raw.
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Passgate</title>'
        '<link rel="stylesheet" href="/dashboard/static/style.css"></head><body><main>'
        f'<h1>Not done</h1><p class="notice bad" role="alert">{escape(exc.message)}</p>'
        '<p><a href="/dashboard">Overview</a></p>'
        "</main></body></html>"
    )
    return HTMLResponse(body, status_code=status)


def install(app: FastAPI) -> None:
    @app.exception_handler(e.PassgateError)
    async def _domain(request: Request, exc: e.PassgateError) -> Response:
        if request.url.path.startswith("/dashboard"):
            return _html_error(exc, status_for(exc))
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, e.Unauthenticated) else None
        return JSONResponse(
            error_body(exc.code, exc.message, exc.field),
            status_code=status_for(exc),
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        field = _field_of(tuple(first.get("loc", ())))
        if first.get("type") == "json_invalid":
            return JSONResponse(
                error_body("malformed_json", "the request body is not valid JSON"), status_code=400
            )
        message = str(first.get("msg", "invalid value"))
        if first.get("type") == "extra_forbidden":
            message = "unknown field; check the API reference for the accepted fields"
        text = f"{field}: {message}" if field else message
        return JSONResponse(error_body("validation_error", text, field), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = getattr(request.state, "request_id", None)
        log.error(
            "unhandled error",
            exc_info=exc,
            extra={"request_id": request_id, "path": request.url.path},
        )
        return JSONResponse(
            error_body("internal_error", f"internal error; request id {request_id}"),
            status_code=500,
        )
