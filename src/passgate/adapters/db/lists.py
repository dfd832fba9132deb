"""Named list queries: filtering, joins and paging in SQL, over indexes that match them.

Each list sorts newest first on (time, id) and pages by keyset (services/paging.py); the
indexes of migration 0009 hold exactly those columns after ``org_id``, so a page is one
index seek and a bounded scan whatever the table's size.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from passgate.adapters.db import tables as t
from passgate.domain import model as m
from passgate.domain.errors import ValidationError
from passgate.domain.passes import DEVICES_BOTH, DEVICES_NONE, IPHONE, WATCH
from passgate.services.paging import COUNT_CAP, Page, Position
from passgate.services.ports import PassListRow

DEVICE_FILTERS = (IPHONE, WATCH, DEVICES_BOTH, DEVICES_NONE)


def capped_count(conn: sa.Connection, stmt: Any) -> int | None:
    """How many rows ``stmt`` selects when at most COUNT_CAP, else None (counting stops
    after COUNT_CAP + 1 rows, so the cost is bounded whatever the table's size)."""
    limited = stmt.limit(COUNT_CAP + 1).subquery()
    n = int(conn.execute(sa.select(sa.func.count()).select_from(limited)).scalar_one())
    return n if n <= COUNT_CAP else None


def after_position(at: Any, row_id: Any, position: Position) -> Any:
    """Rows after ``position`` in (at, id) descending order.

    The first term alone is a range on the index's time column, so both databases seek
    to the position instead of scanning down to it; the second breaks ties by id.
    """
    return sa.and_(at <= position.at, sa.or_(at < position.at, row_id < position.id))


def _fields(entity_type: type[Any], row: Any, prefix: str = "") -> Any:
    names = entity_type.__dataclass_fields__
    return entity_type(**{n: row[prefix + n] for n in names if prefix + n in row})


class SqlPassList:
    """The organization's Apple Passes with their member and devices (R17)."""

    def __init__(self, conn: sa.Connection, org_id: str) -> None:
        self._conn = conn
        self._org_id = org_id

    def _active(self, kind: str) -> Any:
        d = t.pass_devices.c
        return (
            sa.select(d.id)
            .where(
                d.org_id == self._org_id,
                d.pass_id == t.apple_passes.c.id,
                d.kind == kind,
                d.status == m.DeviceStatus.ACTIVE.value,
            )
            .exists()
        )

    def page(
        self,
        *,
        status: str | None,
        device: str | None,
        search: str | None,
        limit: int,
        after: Position | None = None,
        offset: int = 0,
    ) -> Page[PassListRow]:
        if device is not None and device not in DEVICE_FILTERS:
            raise ValidationError(
                f"device must be one of {', '.join(DEVICE_FILTERS)}", field="device"
            )
        p, mb = t.apple_passes.c, t.members.c
        stmt = sa.select(t.apple_passes).where(p.org_id == self._org_id)
        if status is not None:
            stmt = stmt.where(p.status == status)
        needle = (search or "").strip().lower()
        if needle:
            # Only a search needs the members table; otherwise every pass has its member
            # (a foreign key), so the count and the page read the passes' index alone.
            named = sa.select(mb.id).where(
                mb.org_id == self._org_id,
                sa.or_(
                    sa.func.lower(mb.display_name).contains(needle, autoescape=True),
                    sa.func.lower(mb.email).contains(needle, autoescape=True),
                ),
            )
            stmt = stmt.where(p.member_id.in_(named))
        if device is not None:
            iphone, watch = self._active(IPHONE), self._active(WATCH)
            stmt = stmt.where(
                {
                    IPHONE: sa.and_(iphone, ~watch),
                    WATCH: sa.and_(~iphone, watch),
                    DEVICES_BOTH: sa.and_(iphone, watch),
                    DEVICES_NONE: sa.and_(~iphone, ~watch),
                }[device]
            )
        total = capped_count(self._conn, stmt.with_only_columns(p.id))
        if after is not None:
            stmt = stmt.where(after_position(p.created_at, p.id, after))
        stmt = stmt.order_by(p.created_at.desc(), p.id.desc()).limit(limit + 1).offset(offset)
        found = list(self._conn.execute(stmt).mappings())
        more = len(found) > limit
        passes = [_fields(m.ApplePass, r) for r in found[:limit]]
        members: dict[str, m.Member] = {}
        devices: dict[str, list[m.PassDevice]] = {x.id: [] for x in passes}
        if passes:
            rows = self._conn.execute(
                sa.select(t.members).where(
                    mb.org_id == self._org_id, mb.id.in_({x.member_id for x in passes})
                )
            ).mappings()
            members = {r["id"]: _fields(m.Member, r) for r in rows}
            d = t.pass_devices.c
            rows = self._conn.execute(
                sa.select(t.pass_devices)
                .where(d.org_id == self._org_id, d.pass_id.in_(list(devices)))
                .order_by(d.added_at, d.id)
            ).mappings()
            for r in rows:
                devices[r["pass_id"]].append(_fields(m.PassDevice, r))
        items = [
            PassListRow(apple_pass=x, member=members[x.member_id], devices=devices[x.id])
            for x in passes
        ]
        nxt = Position(passes[-1].created_at, passes[-1].id) if more and passes else None
        return Page(items=items, next=nxt, total=total)
