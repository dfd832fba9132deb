"""In-memory stand-ins for the service ports, so service tests run without a database.

``FakeDatabase`` keeps rows per entity type; ``FakeUnitOfWork`` works on a copy of
them and writes the copy back only when its block ends cleanly with ``write=True``,
as the SQL unit of work commits or rolls back. Rows are scoped to the unit of work's
organization the way the SQL repositories scope them: another tenant's row is
NotFound. These are for testing the layers above the ports; the product always runs
on the SQL adapters.
"""

from __future__ import annotations

import builtins
import copy
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar, cast

from passgate.domain import model as m
from passgate.errors import NotFound
from passgate.services.ports import UnitOfWork

T = TypeVar("T")


@dataclass
class FixedClock:
    """A clock that always says ``at`` (set it to move time on)."""

    at: datetime

    def now(self) -> datetime:
        return self.at


@dataclass
class FakeDatabase:
    rows: dict[type, dict[str, Any]] = field(default_factory=dict)
    events: list[m.Event] = field(default_factory=list)
    outbox: list[m.OutboxMessage] = field(default_factory=list)
    commits: int = 0

    def put(self, *entities: Any) -> None:
        """Seed rows directly (no transaction), as a fixture would insert them."""
        for e in entities:
            self.rows.setdefault(type(e), {})[e.id] = copy.deepcopy(e)

    def get(self, entity_type: type[T], entity_id: str) -> T:
        return cast(T, copy.deepcopy(self.rows[entity_type][entity_id]))


class FakeRepository:
    def __init__(self, table: dict[str, Any], org_id: str | None) -> None:
        self._table = table
        self._org_id = org_id

    def _visible(self) -> builtins.list[Any]:
        return [
            e
            for e in self._table.values()
            if self._org_id is None or getattr(e, "org_id", self._org_id) == self._org_id
        ]

    def get(self, entity_id: str) -> Any:
        found = self.find(entity_id)
        if found is None:
            raise NotFound(f"{entity_id} not found")
        return found

    def find(self, entity_id: str) -> Any:
        return next((e for e in self._visible() if e.id == entity_id), None)

    def all_where(self, **filters: Any) -> builtins.list[Any]:
        return [e for e in self._visible() if all(getattr(e, k) == v for k, v in filters.items())]

    def list(
        self,
        *,
        filters: Mapping[str, Any] | None = None,
        search: tuple[Sequence[str], str] | None = None,
        limit: int = 50,
        offset: int = 0,
        newest_first: bool = False,
    ) -> tuple[builtins.list[Any], int]:
        rows = self.all_where(**(filters or {}))
        if search is not None:
            columns, text = search
            rows = [
                r for r in rows if any(text.lower() in str(getattr(r, c)).lower() for c in columns)
            ]
        rows.sort(key=lambda r: r.id, reverse=newest_first)
        return rows[offset : offset + limit], len(rows)

    def add(self, entity: Any) -> None:
        self._table[entity.id] = entity

    def update(self, entity: Any) -> None:
        self.get(entity.id)
        self._table[entity.id] = entity

    def delete(self, entity_id: str) -> None:
        self.get(entity_id)
        del self._table[entity_id]

    def count(self, **filters: Any) -> int:
        return len(self.all_where(**filters))


class FakeEvents:
    def __init__(self, events: builtins.list[m.Event], org_id: str | None) -> None:
        self._events = events
        self._org_id = org_id

    def add(self, event: m.Event) -> bool:
        if any(e.idempotency_key == event.idempotency_key for e in self._events):
            return False
        self._events.append(event)
        return True

    def get(self, event_id: str) -> m.Event:
        for e in self._events:
            if e.id == event_id and (self._org_id is None or e.org_id == self._org_id):
                return e
        raise NotFound(f"event {event_id} not found")

    def list(self, query: Any, *, limit: int, offset: int) -> tuple[builtins.list[m.Event], int]:
        wanted = {
            f.name: getattr(query, f.name)
            for f in dataclasses.fields(query)
            if f.name not in ("since", "until") and getattr(query, f.name) is not None
        }
        rows = [
            e
            for e in self._events
            if (self._org_id is None or e.org_id == self._org_id)
            and all(getattr(e, k) == v for k, v in wanted.items())
            and (query.since is None or e.occurred_at >= query.since)
            and (query.until is None or e.occurred_at < query.until)
        ]
        rows.sort(key=lambda e: (e.occurred_at, e.id), reverse=True)
        return rows[offset : offset + limit], len(rows)


class FakeOutbox:
    def __init__(self, messages: builtins.list[m.OutboxMessage]) -> None:
        self._messages = messages

    def add(self, message: m.OutboxMessage) -> None:
        message.id = len(self._messages) + 1
        self._messages.append(message)

    def pending(self, topic: str | None = None) -> builtins.list[m.OutboxMessage]:
        return [
            x
            for x in self._messages
            if x.delivered_at is None and (topic is None or x.topic == topic)
        ]


class FakeUnitOfWork:
    """One transaction over a FakeDatabase: a private copy, written back on commit."""

    def __init__(self, db: FakeDatabase, org_id: str | None, *, write: bool = True) -> None:
        self._db = db
        self.org_id = org_id
        self._write = write
        self._work: FakeDatabase | None = None
        self.changed_serials: set[str] = set()

    def __enter__(self) -> FakeUnitOfWork:
        self._work = copy.deepcopy(self._db)
        self.events = FakeEvents(self._work.events, self.org_id)
        self.outbox = FakeOutbox(self._work.outbox)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._work is not None
        if exc_type is None and self._write:
            self._db.rows = self._work.rows
            self._db.events = self._work.events
            self._db.outbox = self._work.outbox
            self._db.commits += 1
        self._work = None

    def repo(self, entity_type: type[T]) -> Any:
        assert self._work is not None, "use the unit of work inside its with block"
        return FakeRepository(self._work.rows.setdefault(entity_type, {}), self.org_id)

    def active_webhooks(self, org_id: str) -> builtins.list[m.Webhook]:
        return [w for w in self.repo(m.Webhook).all_where(org_id=org_id) if w.active]


class FakeUnitOfWorkFactory:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    def __call__(self, org_id: str | None, *, write: bool = True) -> UnitOfWork:
        # The fake covers what service commands use (repo, events, outbox, webhooks,
        # changed serials), not the SQL-only queries (pass list, organizations, keys):
        # those are tested on both real databases.
        return cast(UnitOfWork, FakeUnitOfWork(self.db, org_id, write=write))
