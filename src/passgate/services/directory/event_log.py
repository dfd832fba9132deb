"""The event log as its readers see it: administrators page the organization's log,
a member pages their own taps.

Each method checks the caller's role (services/authz.py), opens its own read-only unit
of work and returns a page; routes only translate HTTP. Lists page by keyset cursor
(services/paging.py) in SQL over indexes that match their filters
(adapters/db/lists.py); the total is counted up to paging.COUNT_CAP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from passgate.domain import model as m
from passgate.services.actors import Actor
from passgate.services.authz import authorize
from passgate.services.directory.me import own_taps
from passgate.services.events import EVENT_LIST, EventFilter
from passgate.services.paging import Page, decode_cursor
from passgate.services.ports import UnitOfWorkFactory


class _Wiring(Protocol):
    @property
    def uow_factory(self) -> UnitOfWorkFactory: ...


@dataclass(frozen=True)
class EventLog:
    """Read-only queries of the event log, each one whole (role, tenant, transaction)."""

    uow_factory: UnitOfWorkFactory

    @classmethod
    def of(cls, container: _Wiring) -> EventLog:
        return cls(container.uow_factory)

    def page(
        self,
        actor: Actor,
        query: EventFilter,
        *,
        limit: int,
        cursor: str | None = None,
        offset: int = 0,
    ) -> Page[m.Event]:
        """The organization's events matching ``query``, newest first by occurred_at;
        ``cursor`` is the previous page's next cursor (ValidationError(field="cursor")
        when it is not one)."""
        authorize(actor, "list_events")
        after = decode_cursor(EVENT_LIST, cursor) if cursor is not None else None
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return uow.events.page(query, limit=limit, after=after, offset=offset)

    def own_taps(self, actor: Actor, *, limit: int, offset: int) -> tuple[list[m.Event], int]:
        """The calling member's own access decisions, newest first, and their number."""
        authorize(actor, "list_my_events")
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return own_taps(uow, actor, limit=limit, offset=offset)
