"""Template rendering for the dashboard."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from passgate.web.dashboard.auth import csrf_token
from passgate.web.deps import CSRF_COOKIE, cookie_name


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("passgate.web.dashboard", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    # The sign-in form ends at the organization's identity provider (another origin),
    # which a form-action 'self' policy would block; every other page keeps 'self'.
    form_action: str = "'self'",
    **context: Any,
) -> HTMLResponse:
    token = csrf_token(request)
    flash = request.query_params.get("done")
    html = (
        _env()
        .get_template(template)
        .render(csrf=token, flash=context.pop("flash", flash), **context)
    )
    response = HTMLResponse(html, status_code=status_code)
    if request.cookies.get(cookie_name(request, CSRF_COOKIE)) != token:
        response.set_cookie(
            cookie_name(request, CSRF_COOKIE),
            token,
            httponly=False,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    # No inline script runs: the page's scripts are files under /dashboard/static.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"frame-ancestors 'none'; form-action {form_action}"
    )
    return response
