"""Repositories and the unit of work on SQLAlchemy Core.

Tenant scoping lives here and only here: ``TenantRepository`` adds
``org_id = :org`` to every statement it builds, so no service or route can
forget it. The operator's unit of work (``org_id is None``) cannot hand out
tenant repositories at all.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Generic, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine

from passgate.adapters.db import change_log
from passgate.adapters.db import tables as t
from passgate.adapters.db.bulk import bulk_insert_new
from passgate.adapters.db.engine import IMMEDIATE, writer_turn
from passgate.adapters.db.lists import (
    SqlPassList,
    after_position,
    capped,
    capped_count,
    count_column,
    entities,
)
from passgate.domain import model as m
from passgate.domain.errors import NotFound, PermissionDenied, WriteConflict
from passgate.services.paging import Page, Position
from passgate.services.ports import EventQuery

T = TypeVar("T")

TABLES = t.ENTITY_TABLES
TABLES.update(
    {
        m.Subscription: t.subscriptions,
        m.Place: t.places,
        m.Door: t.doors,
        m.Reader: t.readers,
        m.Group: t.groups,
        m.Member: t.members,
        m.AccessRight: t.access_rights,
        m.AccessSchedule: t.schedules,
        m.ApiKey: t.api_keys,
        m.Webhook: t.webhooks,
        m.Session: t.sessions,
        m.SsoConnection: t.sso_connections,
        m.ApplePass: t.apple_passes,
        m.PassDevice: t.pass_devices,
    }
)
register_table = t.register_table  # area modules may import it from here too


def _row_to(entity_type: type[T], row: sa.RowMapping) -> T:
    names = {f.name for f in dataclasses.fields(cast(Any, entity_type))}
    return entity_type(**{k: v for k, v in row.items() if k in names})


def _values(entity: Any) -> dict[str, Any]:
    return dataclasses.asdict(entity)


def singular(table_name: str) -> str:
    """``apple_passes`` -> ``apple_pass``, ``doors`` -> ``door`` (errors name the kind)."""
    if table_name.endswith(("sses", "xes")):
        return table_name[:-2]
    if table_name.endswith("ies"):
        return table_name[:-3] + "y"
    return table_name.removesuffix("s")


class TenantRepository(Generic[T]):
    def __init__(
        self,
        conn: sa.Connection,
        table: sa.Table,
        entity_type: type[T],
        org_id: str,
        *,
        lock_rows: bool = False,
        notes: change_log.ChangeNotes | None = None,
    ) -> None:
        self._conn = conn
        self._table = table
        self._type = entity_type
        self._org_id = org_id
        self._lock_rows = lock_rows
        self._label = singular(table.name).replace("_", " ")
        # Writes to a table readers depend on note what they touched (the change log).
        self._notes = notes if notes is not None and change_log.watched(table) else None

    def _rows_before(self, stmt: Any) -> builtins.list[dict[str, Any]]:
        return [dict(r) for r in self._conn.execute(stmt).mappings()]

    def _note(self, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> None:
        if self._notes is not None:
            self._notes.row(self._table.name, before, after)

    def _scoped(self, stmt: Any) -> Any:
        return stmt.where(self._table.c.org_id == self._org_id)

    def _where(self, stmt: Any, filters: Mapping[str, Any]) -> Any:
        stmt = self._scoped(stmt)
        for key, value in filters.items():
            column = self._table.c[key]
            # A tuple matches any of its values (one statement for a batch of ids).
            stmt = stmt.where(
                self._any_of(column, value) if isinstance(value, tuple) else column == value
            )
        return stmt

    def _any_of(self, column: sa.Column[Any], values: tuple[Any, ...]) -> Any:
        """``column`` equals one of ``values``. On PostgreSQL the values go as one array
        parameter (``= ANY(%s)``): an IN list binds one parameter each, which SQLAlchemy
        renders and psycopg converts one by one for every batch (the last seen of the
        thousands of readers that answered within a second)."""
        if self._conn.dialect.name == "postgresql" and len(values) > 1:
            array = postgresql.ARRAY(column.type)
            return column == sa.any_(sa.cast(sa.bindparam(None, list(values), type_=array), array))
        return column.in_(values)

    def find(self, entity_id: str) -> T | None:
        stmt = self._scoped(sa.select(self._table)).where(self._table.c.id == entity_id)
        if self._lock_rows:
            # A write transaction reads the row it is about to change under a row lock,
            # so two read-modify-writes of one row run one after the other instead of
            # the later silently undoing the earlier (PostgreSQL runs READ COMMITTED;
            # SQLite write transactions are already serialized by BEGIN IMMEDIATE).
            stmt = stmt.with_for_update()
        row = self._conn.execute(stmt).mappings().first()
        return None if row is None else _row_to(self._type, row)

    def get(self, entity_id: str) -> T:
        found = self.find(entity_id)
        if found is None:
            # The id is not echoed back: a caller probing ids learns nothing new.
            raise NotFound(f"{self._label} not found", field=f"{self._label.replace(' ', '_')}_id")
        return found

    def list(
        self,
        *,
        filters: Mapping[str, Any] | None = None,
        search: tuple[Sequence[str], str] | None = None,
        limit: int = 50,
        offset: int = 0,
        newest_first: bool = False,
    ) -> tuple[builtins.list[T], int]:
        base = self._where(sa.select(self._table), filters or {})
        if search is not None and search[1]:
            pattern = (
                "%" + search[1].lower().replace("\\", "").replace("%", "").replace("_", "") + "%"
            )
            base = base.where(
                sa.or_(*(sa.func.lower(self._table.c[col]).like(pattern) for col in search[0]))
            )
        total = self._conn.execute(
            sa.select(sa.func.count()).select_from(base.subquery())
        ).scalar_one()
        order = (
            (self._table.c.created_at.desc(), self._table.c.id.desc())
            if newest_first
            else (self._table.c.created_at, self._table.c.id)
        )
        rows = self._conn.execute(base.order_by(*order).limit(limit).offset(offset)).mappings()
        return [_row_to(self._type, r) for r in rows], int(total)

    def all_where(self, **filters: Any) -> builtins.list[T]:
        rows = self._conn.execute(self._where(sa.select(self._table), filters)).mappings()
        return [_row_to(self._type, r) for r in rows]

    def count(self, **filters: Any) -> int:
        stmt = self._where(sa.select(sa.func.count()).select_from(self._table), filters)
        return int(self._conn.execute(stmt).scalar_one())

    def add(self, entity: T) -> None:
        values = _values(entity)
        if values["org_id"] != self._org_id:
            raise PermissionDenied("entity belongs to another organization")
        self._conn.execute(sa.insert(self._table).values(**values))
        self._note(None, values)

    def update(self, entity: T) -> None:
        values = _values(entity)
        after = dict(values)
        entity_id = values.pop("id")
        if values.pop("org_id") != self._org_id:
            raise PermissionDenied("entity belongs to another organization")
        before = None
        if self._notes is not None:
            found = self._rows_before(
                self._scoped(sa.select(self._table)).where(self._table.c.id == entity_id)
            )
            before = found[0] if found else None
        stmt = self._scoped(sa.update(self._table)).where(self._table.c.id == entity_id)
        if self._conn.execute(stmt.values(**values)).rowcount != 1:
            raise NotFound(f"{self._label} not found")
        self._note(before, after)

    def advance(self, column: str, when: datetime, **filters: Any) -> int:
        """Set ``column`` to ``when`` on matching rows where it is unset or earlier.

        One UPDATE of that column only: unlike a read-modify-write of the whole row it
        cannot undo a concurrent change to other columns (say, a suspension).
        """
        col = self._table.c[column]
        spec = change_log.WATCHED.get(self._table.name)
        if self._notes is not None and spec is not None and spec.reads(column):
            chosen = self._where(sa.select(self._table), filters)
            for row in self._rows_before(chosen.where(sa.or_(col.is_(None), col < when))):
                self._note(row, {**row, column: when})
        stmt = self._where(sa.update(self._table), filters).where(sa.or_(col.is_(None), col < when))
        return int(self._conn.execute(stmt.values({column: when})).rowcount)

    def delete(self, entity_id: str) -> None:
        if self._notes is not None:
            chosen = self._scoped(sa.select(self._table)).where(self._table.c.id == entity_id)
            for row in self._rows_before(chosen):
                self._note(row, None)
        stmt = self._scoped(sa.delete(self._table)).where(self._table.c.id == entity_id)
        if self._conn.execute(stmt).rowcount != 1:
            raise NotFound(f"{self._label} not found")

    def delete_where(self, **filters: Any) -> int:
        if self._notes is not None:
            for row in self._rows_before(self._where(sa.select(self._table), filters)):
                self._note(row, None)
        return int(self._conn.execute(self._where(sa.delete(self._table), filters)).rowcount)


class SqlOrganizations:
    def __init__(
        self, conn: sa.Connection, org_id: str | None, notes: change_log.ChangeNotes
    ) -> None:
        self._conn = conn
        self._org_id = org_id
        self._notes = notes

    def _visible(self, stmt: Any) -> Any:
        # A tenant unit of work sees its own organization only.
        return stmt if self._org_id is None else stmt.where(t.organizations.c.id == self._org_id)

    def get(self, org_id: str) -> m.Organization:
        stmt = self._visible(sa.select(t.organizations)).where(t.organizations.c.id == org_id)
        row = self._conn.execute(stmt).mappings().first()
        if row is None:
            raise NotFound("organization not found", field="org_id")
        return _row_to(m.Organization, row)

    def lock(self, org_id: str) -> None:
        # FOR NO KEY UPDATE: waits for another holder of the lock only, not for the
        # transactions inserting rows that reference the organization (their foreign-key
        # checks take FOR KEY SHARE). SQLite's BEGIN IMMEDIATE already serializes writers.
        stmt = self._visible(sa.select(t.organizations.c.id)).where(t.organizations.c.id == org_id)
        if self._conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update(key_share=True)
        if self._conn.execute(stmt).first() is None:
            raise NotFound("organization not found", field="org_id")

    def find_by_slug(self, slug: str) -> m.Organization | None:
        stmt = self._visible(sa.select(t.organizations)).where(t.organizations.c.slug == slug)
        row = self._conn.execute(stmt).mappings().first()
        return None if row is None else _row_to(m.Organization, row)

    def list(self, *, limit: int, offset: int) -> tuple[list[m.Organization], int]:
        base = self._visible(sa.select(t.organizations))
        total = self._conn.execute(
            sa.select(sa.func.count()).select_from(base.subquery())
        ).scalar_one()
        rows = self._conn.execute(
            base.order_by(t.organizations.c.created_at, t.organizations.c.id)
            .limit(limit)
            .offset(offset)
        ).mappings()
        return [_row_to(m.Organization, r) for r in rows], int(total)

    def add(self, org: m.Organization) -> None:
        if self._org_id is not None:
            raise PermissionDenied("only the operator creates organizations")
        values = _values(org)
        self._conn.execute(sa.insert(t.organizations).values(**values))
        self._notes.row("organizations", None, values)

    def update(self, org: m.Organization) -> None:
        values = _values(org)
        after = dict(values)
        org_id = values.pop("id")
        stmt = self._visible(sa.update(t.organizations)).where(t.organizations.c.id == org_id)
        if self._conn.execute(stmt.values(**values)).rowcount != 1:
            raise NotFound("organization not found", field="org_id")
        self._notes.row("organizations", None, after)


class SqlGroupDoors:
    def __init__(self, conn: sa.Connection, org_id: str, notes: change_log.ChangeNotes) -> None:
        self._conn = conn
        self._org_id = org_id
        self._t = t.group_doors
        self._notes = notes

    def doors_of(self, group_id: str) -> list[str]:
        stmt = sa.select(self._t.c.door_id).where(
            self._t.c.org_id == self._org_id, self._t.c.group_id == group_id
        )
        return sorted(self._conn.execute(stmt).scalars())

    def replace(self, group_id: str, door_ids: Iterable[str]) -> None:
        self._conn.execute(
            sa.delete(self._t).where(
                self._t.c.org_id == self._org_id, self._t.c.group_id == group_id
            )
        )
        rows = [{"org_id": self._org_id, "group_id": group_id, "door_id": d} for d in door_ids]
        if rows:
            self._conn.execute(sa.insert(self._t), rows)
        self._notes.add(self._org_id, [("group", group_id)])

    def delete_for_door(self, door_id: str) -> None:
        groups = self._conn.execute(
            sa.select(self._t.c.group_id).where(
                self._t.c.org_id == self._org_id, self._t.c.door_id == door_id
            )
        ).scalars()
        self._notes.add(self._org_id, [("group", g) for g in groups])
        self._conn.execute(
            sa.delete(self._t).where(self._t.c.org_id == self._org_id, self._t.c.door_id == door_id)
        )


class SqlEvents:
    def __init__(self, conn: sa.Connection, org_id: str | None) -> None:
        self._conn = conn
        self._org_id = org_id

    def add(self, event: m.Event) -> bool:
        if self._org_id is not None and event.org_id != self._org_id:
            raise PermissionDenied("event belongs to another organization")
        insert = _insert_ignoring_duplicates(self._conn, t.events, "idempotency_key")
        # RETURNING tells whether the row went in; rowcount is unreliable for
        # ON CONFLICT inserts across drivers.
        inserted = self._conn.execute(insert.values(**_values(event)).returning(t.events.c.id))
        return inserted.first() is not None

    def get(self, event_id: str) -> m.Event:
        stmt = sa.select(t.events).where(t.events.c.id == event_id)
        if self._org_id is not None:
            stmt = stmt.where(t.events.c.org_id == self._org_id)
        row = self._conn.execute(stmt).mappings().first()
        if row is None:
            raise NotFound("event not found", field="event_id")
        return _row_to(m.Event, row)

    def _filtered(self, query: EventQuery) -> Any:
        c = t.events.c
        stmt = sa.select(t.events)
        if self._org_id is not None:
            stmt = stmt.where(c.org_id == self._org_id)
        for name in ("category", "type", "door_id", "member_id", "reader_id", "reason"):
            value = getattr(query, name)
            if value is not None:
                stmt = stmt.where(c[name] == value)
        if query.granted is not None:
            # A literal, not a parameter, so the planner matches the partial index of
            # denials (ix_events_org_denied_occurred) in prepared statements too.
            stmt = stmt.where(c.granted == (sa.true() if query.granted else sa.false()))
        if query.since is not None:
            stmt = stmt.where(c.occurred_at >= query.since)
        if query.until is not None:
            stmt = stmt.where(c.occurred_at < query.until)
        return stmt

    def list(self, query: EventQuery, *, limit: int, offset: int) -> tuple[list[m.Event], int]:
        """A page and the exact total (for small, filtered ranges: a member's taps)."""
        c = t.events.c
        stmt = self._filtered(query)
        total = self._conn.execute(
            sa.select(sa.func.count()).select_from(stmt.subquery())
        ).scalar_one()
        rows = self._conn.execute(
            stmt.order_by(c.occurred_at.desc(), c.id.desc()).limit(limit).offset(offset)
        ).mappings()
        return [_row_to(m.Event, r) for r in rows], int(total)

    def page(
        self, query: EventQuery, *, limit: int, after: Position | None = None, offset: int = 0
    ) -> Page[m.Event]:
        c = t.events.c
        stmt = self._filtered(query)
        counted = stmt.with_only_columns(c.id)
        if after is not None:
            stmt = stmt.where(after_position(c.occurred_at, c.id, after))
        # The page and the list's count in one statement (one round trip).
        found = self._conn.execute(
            stmt.add_columns(count_column(counted))
            .order_by(c.occurred_at.desc(), c.id.desc())
            .limit(limit + 1)
            .offset(offset)
        )
        keys, got = list(found.keys()), found.all()
        total = capped(int(got[0][-1])) if got else capped_count(self._conn, counted)
        rows = entities(m.Event, keys, got)
        more = len(rows) > limit
        rows = rows[:limit]
        nxt = Position(rows[-1].occurred_at, rows[-1].id) if more and rows else None
        return Page(items=rows, next=nxt, total=total)

    def add_many(self, events: Sequence[m.Event]) -> set[str]:
        if not events:
            return set()
        if self._org_id is not None and any(e.org_id != self._org_id for e in events):
            raise PermissionDenied("event belongs to another organization")
        names = [f.name for f in dataclasses.fields(m.Event)]
        rows = [[getattr(e, n) for n in names] for e in events]
        # RETURNING names the rows that went in: a resent event meets its stored copy's
        # unique key and is skipped.
        return set(bulk_insert_new(self._conn, t.events, names, rows, "idempotency_key"))

    def counts(
        self, query: EventQuery, by: str, *, bucket_s: int | None = None, limit: int = 20
    ) -> builtins.list[tuple[Any, int]]:
        base = self._filtered(query).subquery()
        if by == "time":
            if not bucket_s or bucket_s <= 0:
                raise ValueError("a time histogram needs bucket_s")
            key: Any = _epoch_bucket(self._conn, base.c.occurred_at, bucket_s)
        else:
            key = base.c[by]
        n = sa.func.count().label("n")
        stmt = sa.select(key.label("k"), n).group_by(key)
        stmt = stmt.order_by(key) if by == "time" else stmt.order_by(n.desc(), key).limit(limit)
        return [(row.k, int(row.n)) for row in self._conn.execute(stmt)]


def _epoch_bucket(conn: sa.Connection, column: Any, bucket_s: int) -> Any:
    """Seconds since the epoch of the start of ``column``'s bucket, as an integer."""
    if conn.dialect.name == "postgresql":
        seconds: Any = sa.func.extract("epoch", column)
        return sa.cast(sa.func.floor(seconds / bucket_s) * bucket_s, sa.BigInteger)
    seconds = sa.cast(sa.func.strftime("%s", column), sa.Integer)
    return (seconds / bucket_s) * bucket_s


def _insert_ignoring_duplicates(conn: sa.Connection, table: sa.Table, key: str) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing(index_elements=[key])
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing(index_elements=[key])


class SqlOutbox:
    def __init__(self, conn: sa.Connection, org_id: str | None) -> None:
        self._conn = conn
        self._org_id = org_id

    def add(self, message: m.OutboxMessage) -> None:
        if self._org_id is not None and message.org_id != self._org_id:
            raise PermissionDenied("outbox message belongs to another organization")
        values = _values(message)
        values.pop("id")
        self._conn.execute(sa.insert(t.outbox).values(**values))

    def add_many(self, messages: Sequence[m.OutboxMessage]) -> None:
        if not messages:
            return
        if self._org_id is not None and any(x.org_id != self._org_id for x in messages):
            raise PermissionDenied("outbox message belongs to another organization")
        names = [f.name for f in dataclasses.fields(m.OutboxMessage) if f.name != "id"]
        rows = [{n: getattr(x, n) for n in names} for x in messages]
        self._conn.execute(sa.insert(t.outbox), rows)

    def claim(
        self, topic: str, *, worker_id: str, now: datetime, lease_s: float, limit: int
    ) -> list[m.OutboxMessage]:
        c = t.outbox.c
        due = (
            sa.select(c.id)
            .where(
                c.topic == topic,
                c.delivered_at.is_(None),
                c.failed_at.is_(None),
                c.next_attempt_at <= now,
                sa.or_(c.locked_until.is_(None), c.locked_until < now),
            )
            .order_by(c.id)
            .limit(limit)
        )
        if self._conn.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        ids = list(self._conn.execute(due).scalars())
        if not ids:
            return []
        lease = now + timedelta(seconds=lease_s)
        self._conn.execute(
            sa.update(t.outbox).where(c.id.in_(ids)).values(locked_until=lease, locked_by=worker_id)
        )
        rows = self._conn.execute(
            sa.select(t.outbox).where(c.id.in_(ids)).order_by(c.id)
        ).mappings()
        return [_row_to(m.OutboxMessage, r) for r in rows]

    def mark_delivered(self, message_id: int, now: datetime) -> None:
        self._set(message_id, delivered_at=now, locked_until=None, locked_by=None)

    def mark_retry(self, message_id: int, *, error: str, next_attempt_at: datetime) -> None:
        self._set(
            message_id,
            attempts=t.outbox.c.attempts + 1,
            last_error=error[:500],
            next_attempt_at=next_attempt_at,
            locked_until=None,
            locked_by=None,
        )

    def defer(self, message_id: int, *, next_attempt_at: datetime) -> None:
        self._set(message_id, next_attempt_at=next_attempt_at, locked_until=None, locked_by=None)

    def mark_failed(self, message_id: int, *, error: str, now: datetime) -> None:
        self._set(
            message_id,
            attempts=t.outbox.c.attempts + 1,
            last_error=error[:500],
            failed_at=now,
            locked_until=None,
            locked_by=None,
        )

    def _set(self, message_id: int, **values: Any) -> None:
        self._conn.execute(sa.update(t.outbox).where(t.outbox.c.id == message_id).values(**values))

    def pending(self, topic: str | None = None) -> list[m.OutboxMessage]:
        c = t.outbox.c
        stmt = sa.select(t.outbox).where(c.delivered_at.is_(None), c.failed_at.is_(None))
        if topic is not None:
            stmt = stmt.where(c.topic == topic)
        if self._org_id is not None:
            stmt = stmt.where(c.org_id == self._org_id)
        return [
            _row_to(m.OutboxMessage, r) for r in self._conn.execute(stmt.order_by(c.id)).mappings()
        ]


_CONFLICT = "a concurrent change conflicts with this one; try again"


class SqlUnitOfWork:
    """One transaction; commits when the block ends cleanly, rolls back otherwise."""

    def __init__(
        self,
        engine: Engine,
        org_id: str | None,
        *,
        write: bool = True,
        before_commit: Callable[[SqlUnitOfWork], None] | None = None,
        log_keep_entries: int = 10_000,
        log_keep_s: float = 3600.0,
        after_append: Callable[[dict[str, int]], None] | None = None,
    ) -> None:
        self._engine = engine
        self._after_append = after_append
        self.org_id = org_id
        self._write = write
        self._before_commit = before_commit
        self._log_keep = (log_keep_entries, log_keep_s)
        # What this transaction changed that readers need (appended to the change log).
        self.reader_notes = change_log.ChangeNotes()
        self._conn: sa.Connection | None = None
        self._tx: sa.RootTransaction | None = None
        self._turn: contextlib.AbstractContextManager[Any] | None = None
        self.changed_serials: set[str] = set()

    def __enter__(self) -> SqlUnitOfWork:
        if self._write:
            self._turn = writer_turn(self._engine)
            self._turn.__enter__()
        try:
            conn = self._engine.connect()
            if self._write:
                conn = conn.execution_options(**{IMMEDIATE: True})
            self._conn = conn
            self._tx = conn.begin()
        except BaseException:
            self._end_turn()
            raise
        self.organizations = SqlOrganizations(conn, self.org_id, self.reader_notes)
        self.events = SqlEvents(conn, self.org_id)
        self.outbox = SqlOutbox(conn, self.org_id)
        self.reader_changes = change_log.SqlReaderChanges(
            conn, self.reader_notes if self._write else None
        )
        if self.org_id is not None:
            self.group_doors = SqlGroupDoors(conn, self.org_id, self.reader_notes)
            self.pass_list = SqlPassList(conn, self.org_id)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._conn is not None and self._tx is not None
        try:
            if exc_type is None and self._write:
                if self.changed_serials and self._before_commit is not None:
                    self._before_commit(self)  # in this transaction: fails it if it fails
                appended: dict[str, int] = {}
                if self.reader_notes:
                    keep, keep_s = self._log_keep
                    appended = change_log.append(
                        self._conn, self.reader_notes, keep_entries=keep, keep_s=keep_s
                    )
                try:
                    self._tx.commit()
                except sa.exc.IntegrityError as err:
                    raise WriteConflict(_CONFLICT) from err
                if appended and self._after_append is not None:
                    self._after_append(appended)  # committed: wake this process's hub
            else:
                self._tx.rollback()
        finally:
            try:
                self._conn.close()
            finally:
                self._end_turn()
        if isinstance(exc, sa.exc.IntegrityError):
            # The database refused a write a concurrent transaction made impossible (a
            # unique index): callers see the domain's Conflict, never the driver's error.
            raise WriteConflict(_CONFLICT) from exc

    def _end_turn(self) -> None:
        turn, self._turn = self._turn, None
        if turn is not None:
            turn.__exit__(None, None, None)

    def find_api_key(self, key_id: str) -> m.ApiKey | None:
        """Unscoped look-up by key id: authentication runs before the tenant is known."""
        assert self._conn is not None
        row = (
            self._conn.execute(sa.select(t.api_keys).where(t.api_keys.c.id == key_id))
            .mappings()
            .first()
        )
        return None if row is None else _row_to(m.ApiKey, row)

    def find_session(self, session_id: str) -> m.Session | None:
        """Unscoped look-up by session id: authentication runs before the tenant is known."""
        assert self._conn is not None
        row = (
            self._conn.execute(sa.select(t.sessions).where(t.sessions.c.id == session_id))
            .mappings()
            .first()
        )
        return None if row is None else _row_to(m.Session, row)

    def touch_api_key(self, key_id: str, now: datetime) -> None:
        assert self._conn is not None
        self._conn.execute(
            sa.update(t.api_keys).where(t.api_keys.c.id == key_id).values(last_used_at=now)
        )

    def active_webhooks(self, org_id: str) -> list[m.Webhook]:
        """Webhooks of ``org_id`` (the event's organization), for fan-out in any unit of work."""
        assert self._conn is not None
        if self.org_id is not None and org_id != self.org_id:
            raise PermissionDenied("webhooks of another organization")
        c = t.webhooks.c
        rows = self._conn.execute(
            sa.select(t.webhooks).where(c.org_id == org_id, c.active.is_(True))
        ).mappings()
        return [_row_to(m.Webhook, r) for r in rows]

    def repo(self, entity_type: type[T]) -> TenantRepository[T]:
        if self._conn is None:
            raise RuntimeError("unit of work used outside its `with` block")
        if self.org_id is None:
            raise PermissionDenied("tenant data needs an organization-scoped unit of work")
        lock = self._write and self._conn.dialect.name == "postgresql"
        return TenantRepository(
            self._conn,
            TABLES[entity_type],
            entity_type,
            self.org_id,
            lock_rows=lock,
            notes=self.reader_notes if self._write else None,
        )


class SqlUnitOfWorkFactory:
    def __init__(
        self, engine: Engine, *, log_keep_entries: int = 10_000, log_keep_s: float = 3600.0
    ) -> None:
        self.engine = engine
        self.log_keep_entries = log_keep_entries
        self.log_keep_s = log_keep_s
        # The last step inside each write transaction that changed Wallet serials (the
        # container sets it to sign their new .pkpass files).
        self.before_commit: Callable[[SqlUnitOfWork], None] | None = None
        # Called after a commit that appended to the reader change log, with the new
        # heads (the container sets it to adapters.db.change_feed's ``committed``).
        self.after_append: Callable[[dict[str, int]], None] | None = None

    def __call__(self, org_id: str | None, *, write: bool = True) -> SqlUnitOfWork:
        return SqlUnitOfWork(
            self.engine,
            org_id,
            write=write,
            before_commit=self.before_commit,
            log_keep_entries=self.log_keep_entries,
            log_keep_s=self.log_keep_s,
            after_append=self.after_append,
        )
