"""Named list queries: filtering, joins and paging in SQL, over indexes that match them.

Each list sorts newest first on (time, id) and pages by keyset (services/paging.py); the
indexes of migration 0009 hold exactly those columns after ``org_id``, so a page is one
index seek and a bounded scan whatever the table's size.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar, cast

import sqlalchemy as sa

from passgate.adapters.db import tables as t
from passgate.domain import model as m
from passgate.domain.errors import ValidationError
from passgate.domain.passes import DEVICES_BOTH, DEVICES_NONE, IPHONE, WATCH
from passgate.services.paging import COUNT_CAP, Page, Position
from passgate.services.ports import PassListRow

DEVICE_FILTERS = (IPHONE, WATCH, DEVICES_BOTH, DEVICES_NONE)
E = TypeVar("E")


def capped_count(conn: sa.Connection, stmt: Any) -> int | None:
    """How many rows ``stmt`` selects when at most COUNT_CAP, else None (counting stops
    after COUNT_CAP + 1 rows, so the cost is bounded whatever the table's size)."""
    n = int(conn.execute(sa.select(count_column(stmt))).scalar_one())
    return capped(n)


def count_column(stmt: Any) -> Any:
    """The capped count of ``stmt``'s rows as a column, so a page's statement carries
    its list's count (one round trip to the database for both): an uncorrelated
    subquery, evaluated once per statement."""
    limited = stmt.limit(COUNT_CAP + 1).subquery()
    return sa.select(sa.func.count()).select_from(limited).scalar_subquery().label("list_total")


def capped(n: int) -> int | None:
    return n if n <= COUNT_CAP else None


def after_position(at: Any, row_id: Any, position: Position) -> Any:
    """Rows after ``position`` in (at, id) descending order.

    The first term alone is a range on the index's time column, so both databases seek
    to the position instead of scanning down to it; the second breaks ties by id.
    """
    return sa.and_(at <= position.at, sa.or_(at < position.at, row_id < position.id))


_FIELDS: dict[type[Any], frozenset[str]] = {}


def _field_names(entity_type: type[Any]) -> frozenset[str]:
    names = _FIELDS.get(entity_type)
    if names is None:
        names = _FIELDS[entity_type] = frozenset(f.name for f in dataclasses.fields(entity_type))
    return names


def entities(
    entity_type: type[E], keys: Sequence[str], rows: Iterable[Sequence[Any]], start: int = 0
) -> list[E]:
    """``entity_type`` built from each row's columns ``keys`` (names, from ``start``):
    the columns it has a field for are found once per result, not once per row."""
    names = _field_names(entity_type)
    pairs = [(start + i, k) for i, k in enumerate(keys) if k in names]
    make = cast(Any, entity_type)
    return [make(**{k: row[i] for i, k in pairs}) for row in rows]


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
            named = (
                sa.select(mb.id)
                .where(
                    mb.org_id == self._org_id,
                    sa.or_(
                        sa.func.lower(mb.display_name).contains(needle, autoescape=True),
                        sa.func.lower(mb.email).contains(needle, autoescape=True),
                    ),
                )
                .correlate(None)  # its own members, not the page's joined ones
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
        counted = stmt.with_only_columns(p.id)
        if after is not None:
            stmt = stmt.where(after_position(p.created_at, p.id, after))
        # The page, its members and the list's count in one statement: the passes' index
        # gives the order, each member is one primary-key lookup.
        member_cols = [c.label(f"member__{c.name}") for c in t.members.c]
        stmt = (
            stmt.add_columns(*member_cols, count_column(counted))
            .join(t.members, sa.and_(mb.org_id == p.org_id, mb.id == p.member_id))
            .order_by(p.created_at.desc(), p.id.desc())
            .limit(limit + 1)
            .offset(offset)
        )
        found = self._conn.execute(stmt).all()
        # Past the last row the page has no row to carry the count: count alone.
        total = capped(int(found[0][-1])) if found else capped_count(self._conn, counted)
        more = len(found) > limit
        found = found[:limit]
        width = len(t.apple_passes.c)
        passes = entities(m.ApplePass, list(t.apple_passes.c.keys()), found)
        owners = entities(m.Member, list(t.members.c.keys()), found, start=width)
        devices: dict[str, list[m.PassDevice]] = {x.id: [] for x in passes}
        if passes:
            d = t.pass_devices.c
            rows = self._conn.execute(
                sa.select(t.pass_devices)
                .where(d.org_id == self._org_id, d.pass_id.in_(list(devices)))
                .order_by(d.added_at, d.id)
            ).all()
            for x in entities(m.PassDevice, list(t.pass_devices.c.keys()), rows):
                devices[x.pass_id].append(x)
        items = [
            PassListRow(apple_pass=x, member=owner, devices=devices[x.id])
            for x, owner in zip(passes, owners, strict=True)
        ]
        nxt = Position(passes[-1].created_at, passes[-1].id) if more and passes else None
        return Page(items=items, next=nxt, total=total)
