"""The organization's Apple Passes as administrators list them (R17).

``PassList.page`` checks the caller's role, opens its own read-only unit of work and
returns one page, filtered, joined and paged in SQL (adapters/db/lists.py) by keyset
cursor (services/paging.py); routes only translate HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass

from passgate.services.actors import Actor
from passgate.services.authz import authorize
from passgate.services.credentials.pass_admin import PassRow, list_passes
from passgate.services.paging import Page
from passgate.services.ports import UnitOfWorkFactory


@dataclass(frozen=True)
class PassList:
    uow_factory: UnitOfWorkFactory

    def page(
        self,
        actor: Actor,
        *,
        status: str | None = None,
        device: str | None = None,
        search: str | None = None,
        limit: int,
        cursor: str | None = None,
        offset: int = 0,
    ) -> Page[PassRow]:
        """Newest first; ``device`` one of iphone, watch, both, none; ``search`` matches
        the member's name or email; ``cursor`` the previous page's next cursor."""
        authorize(actor, "list_apple_passes")
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return list_passes(
                uow,
                status=status,
                device=device,
                search=search,
                limit=limit,
                offset=offset,
                cursor=cursor,
            )
