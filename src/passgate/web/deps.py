"""FastAPI dependencies: the container, the calling actor, pagination."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request, Response

from passgate.bootstrap import Container
from passgate.services.actors import Actor

MAX_PAGE = 500


def container(request: Request) -> Container:
    c: Container = request.app.state.container
    return c


def actor(request: Request, c: Annotated[Container, Depends(container)]) -> Actor:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    given = token.strip() if scheme.lower() == "bearer" else None
    who = c.authenticator.authenticate(given, c.clock.now())
    request.state.actor_id = who.id
    return who


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
