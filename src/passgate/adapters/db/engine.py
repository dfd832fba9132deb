"""Engine creation: SQLite (embedded default, WAL) or PostgreSQL (psycopg 3)."""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

IMMEDIATE = "passgate_immediate"
_WRITERS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()


def create_engine(url: str, *, echo: bool = False) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url, echo=echo)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return sa.create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_engine(url: str, *, echo: bool) -> Engine:
    database = sa.make_url(url).database
    if database and database != ":memory:":
        _private_file(Path(database))
    engine = sa.create_engine(url, echo=echo, connect_args={"check_same_thread": False})
    _WRITERS[engine] = threading.RLock()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin,
        # so a write transaction can take the write lock up front (BEGIN IMMEDIATE)
        # instead of failing with SQLITE_BUSY when a read upgrades to a write.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before it returns, so an event acknowledged to a
        # reader (which then deletes its copy) survives a power cut. NORMAL in WAL mode
        # may lose the last commits on power loss.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        immediate = connection.get_execution_options().get(IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def writer_turn(engine: Engine) -> contextlib.AbstractContextManager[Any]:
    """Held by a write transaction from its BEGIN to its COMMIT or ROLLBACK.

    SQLite lets one writer in at a time. Without this, the threads of one process that
    want to write at once meet SQLITE_BUSY and sqlite's busy handler puts each to sleep
    for 1, 2, 5, 10 ... ms before it tries again, whether the writer ahead of it has
    finished or not (tails of 100 ms under a burst of writes). Queued on a lock in the
    process instead, the next writer starts the moment the previous one commits.
    Writers in other processes still meet the busy handler. PostgreSQL: nothing.
    """
    lock = _WRITERS.get(engine)  # made with each SQLite engine (_sqlite_engine)
    return contextlib.nullcontext() if lock is None else lock


def _private_file(path: Path) -> None:
    """The database holds hashed secrets and sealed keys: readable by its owner only.

    SQLite gives its -wal and -shm files the main file's permissions, so creating the
    file 0600 before SQLite opens it covers all three.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_uid == os.getuid():
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
