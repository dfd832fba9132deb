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


# Machine endpoints answer JSON whatever the Accept header says.
_MACHINE_PREFIXES = ("/api/", "/scim/", "/passkit/", "/reader/", "/healthz", "/readyz", "/metrics")
_TITLES = {
    401: "Sign in first",
    403: "Not allowed",
    404: "Page not found",
    405: "Not possible here",
    409: "Not done",
    422: "Not done",
    429: "Too many requests",
    500: "Something went wrong",
}


def wants_html(request: Request) -> bool:
    """A browser asking for a page (the dashboard, or any non-API address it opens)."""
    path = request.url.path
    if path.startswith(_MACHINE_PREFIXES) or path == "/api":
        return False
    if path.startswith("/dashboard"):
        return True
    return "text/html" in request.headers.get("accept", "")


def html_error(request: Request, status: int, message: str) -> HTMLResponse:
    """An error page with the way on: back to the dashboard, to one's own page, or sign in.
    The message is escaped, never raw."""
    signed_in = getattr(request.state, "dashboard_actor", None) is not None
    links = [("/dashboard", "Dashboard"), ("/dashboard/me", "My access")]
    if not signed_in:
        links.append(("/dashboard/login", "Sign in"))
    nav = "".join(f'<li><a href="{href}">{label}</a></li>' for href, label in links)
    title = _TITLES.get(status, "Not done")
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · Passgate</title>"
        '<link rel="stylesheet" href="/dashboard/static/style.css"></head><body>'
        '<header><span class="org">Passgate</span><nav aria-label="Main"><ul>'
        f'{nav}</ul></nav></header><main id="main">'
        f'<h1>{escape(title)}</h1><p class="notice bad" role="alert" data-status="{status}">'
        f"{escape(message)}</p>"
        "<p>"
        '<a href="/dashboard">Back to the dashboard</a></p>'
        "</main></body></html>"
    )
    response = HTMLResponse(body, status_code=status)
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'none'; style-src 'self'; frame-ancestors 'none'"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def install(app: FastAPI) -> None:
    @app.exception_handler(e.PassgateError)
    async def _domain(request: Request, exc: e.PassgateError) -> Response:
        if wants_html(request):
            return html_error(request, status_for(exc), exc.message)
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
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if wants_html(request) and exc.status_code >= 400:
            message = {
                404: "There is no page at this address.",
                405: "This address does not take that kind of request.",
            }.get(exc.status_code, str(exc.detail))
            return html_error(request, exc.status_code, message)
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        request_id = getattr(request.state, "request_id", None)
        log.error(
            "unhandled error",
            exc_info=exc,
            extra={"request_id": request_id, "path": request.url.path},
        )
        if wants_html(request):
            return html_error(request, 500, f"An internal error; request id {request_id}.")
        return JSONResponse(
            error_body("internal_error", f"internal error; request id {request_id}"),
            status_code=500,
        )
