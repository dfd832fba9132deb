"""FastAPI dependencies: the container, the calling actor, pagination."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from passgate.domain.errors import PermissionDenied, Unauthenticated
from passgate.services import authz
from passgate.services.actors import Actor
from passgate.services.container import Container
from passgate.web import limits

MAX_PAGE = 500


def container(request: Request) -> Container:
    c: Container = request.app.state.container
    return c


SESSION_COOKIE = "passgate_session"
CSRF_COOKIE = "passgate_csrf"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def _check_csrf(request: Request) -> None:
    """Double-submit: the CSRF cookie must be echoed in a header or form field.

    A cross-site page can make the browser send our cookies but cannot read them,
    so it cannot put the matching value in the request itself.
    """
    if request.method in _SAFE_METHODS:
        return
    expected = request.cookies.get(CSRF_COOKIE, "")
    given = request.headers.get(CSRF_HEADER, "")
    if not given and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        given = value if isinstance(value, str) else ""
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise PermissionDenied(
            "missing or wrong CSRF token (send the passgate_csrf cookie value in X-CSRF-Token)",
            code="csrf_failed",
        )


async def actor(request: Request, c: Annotated[Container, Depends(container)]) -> Actor:
    limits.refuse_unexpected_body(request)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    given = token.strip() if scheme.lower() == "bearer" else None
    cookie = request.cookies.get(SESSION_COOKIE)
    if not header and cookie:
        # Browser sessions only: a cookie never carries an API key or the operator key.
        if not cookie.startswith("ses_"):
            raise Unauthenticated("the session is not valid; sign in again")
        await _check_csrf(request)
        given = cookie
    who = await run_in_threadpool(c.authenticator.authenticate, given, c.clock.now())
    request.state.actor_id = who.id
    # R26: no route receives a caller its operation's declared roles do not admit.
    return authz.authorize(who, operation_of(request))


def operation_of(request: Request) -> str:
    """The matched route's operation id (its name where it declares none)."""
    route = request.scope.get("route")
    name = getattr(route, "operation_id", None) or getattr(route, "name", None)
    return str(name or "")


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


def page(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page")] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip")] = 0,
) -> Page:
    return Page(limit=limit, offset=offset)


def set_total(response: Response, total: int) -> None:
    response.headers["X-Total-Count"] = str(total)


ContainerDep = Annotated[Container, Depends(container)]
ActorDep = Annotated[Actor, Depends(actor)]
PageDep = Annotated[Page, Depends(page)]
