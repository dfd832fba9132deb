"""FastAPI dependencies: the container, the calling actor, pagination."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from passgate.domain.errors import PermissionDenied, Unauthenticated, ValidationError
from passgate.services import authz, paging
from passgate.services.actors import Actor
from passgate.services.container import Container
from passgate.web import limits

MAX_PAGE = 500
_PAGE_KEYS = frozenset({"cursor", "offset"})


def container(request: Request) -> Container:
    c: Container = request.app.state.container
    return c


SESSION_COOKIE = "passgate_session"
CSRF_COOKIE = "passgate_csrf"
CSRF_HEADER = "X-CSRF-Token"


def cookie_name(request: HTTPConnection, base: str, *, path_root: bool = True) -> str:
    """A cookie's name for this request: prefixed over https, so a browser refuses it
    unless Secure (``__Host-`` also: Path=/ and no Domain, so no sibling host can set
    or shadow it). Plain http (development) keeps the bare name."""
    if request.url.scheme != "https":
        return base
    return ("__Host-" if path_root else "__Secure-") + base


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def _check_csrf(request: Request) -> None:
    """Double-submit: the CSRF cookie must be echoed in a header or form field.

    A cross-site page can make the browser send our cookies but cannot read them,
    so it cannot put the matching value in the request itself.
    """
    if request.method in _SAFE_METHODS:
        return
    expected = request.cookies.get(cookie_name(request, CSRF_COOKIE), "")
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
    cookie = request.cookies.get(cookie_name(request, SESSION_COOKIE))
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


@dataclass(frozen=True)
class CursorPage:
    limit: int
    offset: int
    cursor: str | None


def cursor_page(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page")] = 50,
    offset: Annotated[
        int,
        Query(
            ge=0,
            le=10_000_000,
            description="Items to skip (costs grow with the offset; prefer `cursor`). "
            "Cannot be combined with `cursor`.",
        ),
    ] = 0,
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=paging.MAX_CURSOR,
            description="Where to continue: the `X-Next-Cursor` header (also in the "
            '`Link: <...>; rel="next"` header) of the previous page. Opaque; a cursor '
            "of another list or an altered one is refused with 422.",
        ),
    ] = None,
) -> CursorPage:
    if cursor is not None and offset:
        raise ValidationError("offset cannot be combined with cursor", field="offset")
    return CursorPage(limit=limit, offset=offset, cursor=cursor)


# The response headers of a keyset-paged list, for its OpenAPI description.
CURSOR_HEADERS: dict[str, Any] = {
    "X-Total-Count": {
        "description": f"Matching items, when at most {paging.COUNT_CAP:,}; absent when more "
        "(see X-Total-Count-Exceeds)",
        "schema": {"type": "integer"},
    },
    "X-Total-Count-Exceeds": {
        "description": f"Present ({paging.COUNT_CAP}) instead of X-Total-Count when more than "
        f"{paging.COUNT_CAP:,} items match: counting stops there so a page costs the same "
        "at any size",
        "schema": {"type": "integer"},
    },
    "X-Next-Cursor": {
        "description": "Pass as `cursor` to get the next page; absent on the last page",
        "schema": {"type": "string"},
    },
    "Link": {
        "description": 'RFC 8288 link to the next page (rel="next"), same filters and limit',
        "schema": {"type": "string"},
    },
}


def set_page_headers(
    request: Request, response: Response, kind: str, page: paging.Page[Any]
) -> None:
    """Count (capped) and next-page headers of a keyset-paged list."""
    if page.total is None:
        response.headers["X-Total-Count-Exceeds"] = str(paging.COUNT_CAP)
    else:
        response.headers["X-Total-Count"] = str(page.total)
    if page.next is not None:
        cursor = paging.encode_cursor(kind, page.next)
        response.headers["X-Next-Cursor"] = cursor
        params = [(k, v) for k, v in request.query_params.multi_items() if k not in _PAGE_KEYS]
        url = request.url.replace(query=urlencode([*params, ("cursor", cursor)]))
        response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'


ContainerDep = Annotated[Container, Depends(container)]
ActorDep = Annotated[Actor, Depends(actor)]
PageDep = Annotated[Page, Depends(page)]
CursorPageDep = Annotated[CursorPage, Depends(cursor_page)]
