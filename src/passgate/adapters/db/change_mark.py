"""A cheap "has anything been committed to the database since?" mark, for the reader hub.

The hub polls for changes other processes committed. Rebuilding every organization's
reader cache to find out that nothing changed costs O(credentials) per tick; reading
this mark costs one tiny query (PostgreSQL) or two ``stat`` calls and a 32-byte read
(SQLite), so an idle hub does no work beyond its readers' heartbeats.

* PostgreSQL: ``pg_current_wal_lsn()``. Every committed write is in the WAL before its
  commit returns, so an unchanged position means no commit happened since (in any
  process, any organization). Other activity moves it too; that costs a rebuild, never a
  missed change.
* SQLite (WAL mode): the size and modification time of the database and its ``-wal``
  file, with the WAL header (its salts change each time the WAL restarts).
* Anything else (an in-memory database): ``None``, meaning "unknown": always rebuild.

A mark is compared for equality only. Callers must rebuild once more after a mark has
settled (see ``services.readers.change_gate.ChangeGate``): a commit can be in the WAL a moment
before it is visible.
"""

from __future__ import annotations

import os
from collections.abc import Hashable

import sqlalchemy as sa
from sqlalchemy.engine import Engine


def change_mark(engine: Engine) -> Hashable | None:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            return str(conn.exec_driver_sql("SELECT pg_current_wal_lsn()").scalar_one())
    if engine.dialect.name == "sqlite":
        database = sa.make_url(str(engine.url)).database
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        return (_stat(database), _stat(database + "-wal"), _header(database + "-wal"))
    return None


def _stat(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return (info.st_size, info.st_mtime_ns)


def _header(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read(32)
    except FileNotFoundError:
        return None
