"""Template rendering for the dashboard."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from passgate.domain.devices import device_name, model_name
from passgate.domain.eligibility import ELIGIBILITY_MESSAGES
from passgate.domain.readiness import reader_model_name
from passgate.web.dashboard.auth import csrf_token
from passgate.web.deps import CSRF_COOKIE, cookie_name


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("passgate.web.dashboard", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["reader_model"] = reader_model_name
    env.filters["device_name"] = device_name
    env.filters["model_name"] = lambda d: model_name(d.model, d.kind)
    env.filters["ago"] = _ago
    return env


def _ago(when: datetime | None, now: datetime) -> str:
    """``12 s ago``, ``5 min ago``, ``3 h ago``, ``2 days ago``; ``never`` for None."""
    if when is None:
        return "never"
    seconds = max(0, int((now - when).total_seconds()))
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    days = seconds // 86400
    return f"{days} day{'' if days == 1 else 's'} ago"


def _truth(request: Request, context: dict[str, Any]) -> None:
    """Who is signed in, and whether the organization may use Apple Passes right now:
    every page shows both, so no page can call a pass working when taps are denied."""
    who = getattr(request.state, "dashboard_actor", None)
    context.setdefault("who", who)
    context.setdefault("eligibility_messages", ELIGIBILITY_MESSAGES)
    container = getattr(request.app.state, "container", None)
    if container is None:
        return
    context.setdefault("now", container.clock.now())
    if who is not None and who.org_id and "eligibility" not in context:
        view = container.organizations.banner(who)
        context["eligibility"] = view.eligibility
        context.setdefault("org", view.organization)


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
    _truth(request, context)
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
