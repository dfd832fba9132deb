"""Who is looking at the dashboard, and CSRF protection for its forms.

The dashboard is signed in through the organization's SSO, which leaves a
session cookie; every page resolves it with the same Authenticator as the API.
Forms carry a double-submit token (cookie + hidden field) compared in constant
time, so another site cannot make an admin's browser act.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request
from starlette.exceptions import HTTPException

from passgate.domain.errors import PermissionDenied, Unauthenticated
from passgate.services import authz
from passgate.services.actors import Actor
from passgate.web.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    ContainerDep,
    cookie_name,
    operation_of,
)

LOGIN_PATH = "/dashboard/login"
MY_PAGE = "/dashboard/me"


def _to_login() -> HTTPException:
    return HTTPException(status_code=303, detail="sign in first", headers={"Location": LOGIN_PATH})


def dashboard_actor(request: Request, c: ContainerDep) -> Actor:
    token = request.cookies.get(cookie_name(request, SESSION_COOKIE))
    if not token:
        raise _to_login()
    try:
        who = c.authenticator.authenticate(token, c.clock.now())
    except Unauthenticated as exc:
        raise _to_login() from exc
    request.state.actor_id = who.id
    operation = f"dashboard_{operation_of(request)}"
    try:
        authz.authorize(who, operation)
    except PermissionDenied:
        if operation == "dashboard_overview" and authz.principal_of(who) is (
            authz.Principal.MEMBER_BROWSER
        ):
            # A member signing in lands on their own page, not on a refusal.
            raise HTTPException(
                status_code=303, detail="your page", headers={"Location": MY_PAGE}
            ) from None
        request.state.dashboard_actor = who  # the refusal page still says who is signed in
        raise
    request.state.dashboard_actor = who
    return who


def csrf_token(request: Request) -> str:
    """The token the page embeds in its forms (set as a cookie if the browser has none)."""
    existing = request.cookies.get(cookie_name(request, CSRF_COOKIE))
    if existing:
        return existing
    token: str = getattr(request.state, "new_csrf", None) or secrets.token_urlsafe(32)
    request.state.new_csrf = token
    return token


def check_csrf(request: Request, submitted: str | None) -> None:
    cookie = request.cookies.get(cookie_name(request, CSRF_COOKIE), "")
    # The same double-submit rule as the API's cookie sessions (web.deps), read from the form.
    if not cookie or not submitted or not hmac.compare_digest(cookie, submitted):
        raise PermissionDenied("the form expired or came from another site; reload and try again")


DashboardActor = Annotated[Actor, Depends(dashboard_actor)]
