"""Wake-ups after commit: which organizations' reader change logs moved, in any process.

The reader change log (``change_log``) is the source of truth; this only says when to
read it. Subscribers get ``{org id: sequence number}`` for logs that moved, or ``None``
when any organization's may have (they then compare the heads with what they built).
Callbacks run in whatever thread learnt of the change and must only hand it over.

* PostgreSQL: the append runs ``pg_notify(CHANNEL, "<org id> <seq>")`` in the writing
  transaction (``change_log.append``), so a notification exists only for a committed
  entry and arrives after it is visible. Each process keeps one ``LISTEN`` connection
  in a thread and delivers what arrives, its own commits included: nothing polls. When
  that connection is lost (the database restarted, the backend was terminated, TCP
  keepalives found the peer gone) it reconnects with a growing pause and delivers
  ``None`` once it listens again: notifications sent while it was away are lost, so
  the subscribers re-read the heads of the organizations they serve. That re-check
  after each (re)connect is the only safety net, and the only one needed: while the
  connection is up PostgreSQL delivers every notification of every commit.
* SQLite (one host): the unit of work calls :meth:`DbChangeFeed.committed` right after
  its commit returns, which delivers to this process's subscribers at once. Other
  processes on the same file (a second server, a CLI command) are found by reading the
  heads table every ``poll_interval_s`` in a thread while anyone subscribes; the heads
  this process appended itself are known, so only other processes' entries wake it.
  An in-memory database has one process by construction: no thread.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from passgate.adapters.db.change_log import CHANNEL, reader_change_heads

log = logging.getLogger(__name__)
Moved = Mapping[str, int] | None
Subscriber = Callable[[Moved], None]
RECONNECT_FIRST_S = 0.05
RECONNECT_MAX_S = 2.0
LISTENER_NAME = "passgate-reader-feed"  # application_name of the LISTEN connection


def parse_payload(payload: str) -> dict[str, int] | None:
    """``"<org id> <seq>"`` -> ``{org: seq}``; anything else -> None (re-check all)."""
    org_id, _, seq = payload.partition(" ")
    if org_id and seq.isdigit():
        return {org_id: int(seq)}
    return None


class DbChangeFeed:
    """This process's subscribers hear of every organization whose change log moved."""

    def __init__(self, engine: Engine, *, poll_interval_s: float = 0.2) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._poll_s = poll_interval_s
        self._lock = threading.Lock()
        self._subscribers: list[Subscriber] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()  # the running thread's own: a new thread, a new one
        # SQLite: the head of each organization's log as last known here.
        self._known: dict[str, int] = {}
        self._polls = not self._postgres and _file_database(engine)
        # For tests and operators: the listener is up, and how often it reconnected.
        self.listening = threading.Event()
        self.reconnects = 0

    @property
    def polls(self) -> bool:
        """True when other processes' changes are found by polling (SQLite on a file)."""
        return self._polls

    # --- the unit of work's side ---
    def committed(self, appended: Mapping[str, int]) -> None:
        """A transaction of this process committed these log heads."""
        if self._postgres or not appended:
            return  # PostgreSQL: the listener delivers the notification, to us too
        with self._lock:
            for org_id, seq in appended.items():
                self._known[org_id] = max(seq, self._known.get(org_id, 0))
        self._deliver(dict(appended))

    # --- the subscribers' side ---
    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` after each change; returns the unsubscribe function."""
        with self._lock:
            self._subscribers.append(callback)
            if self._thread is None and (self._postgres or self._polls):
                self._stop = stop = threading.Event()
                target = self._listen if self._postgres else self._poll
                self._thread = threading.Thread(
                    target=target, args=(stop,), name="reader-feed", daemon=True
                )
                self._thread.start()

        def unsubscribe() -> None:
            with self._lock:
                with contextlib.suppress(ValueError):
                    self._subscribers.remove(callback)
                if not self._subscribers:
                    # Nobody listens: the thread ends (a new subscriber starts another).
                    self._stop.set()
                    self._thread = None
                    self.listening.clear()

        return unsubscribe

    def close(self) -> None:
        with self._lock:
            self._stop.set()
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)

    def _deliver(self, moved: Moved) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            callback(moved)

    # --- PostgreSQL ---
    def _listen(self, stop: threading.Event) -> None:
        import psycopg

        url = self._engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        delay = RECONNECT_FIRST_S
        while not stop.is_set():
            try:
                with psycopg.connect(
                    url,
                    autocommit=True,
                    connect_timeout=5,
                    application_name=LISTENER_NAME,
                    # A peer gone without a word (a cut network) is noticed in ~25 s.
                    keepalives=1,
                    keepalives_idle=10,
                    keepalives_interval=5,
                    keepalives_count=3,
                ) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    delay = RECONNECT_FIRST_S
                    # What committed before LISTEN took effect (at start, or while away)
                    # was never delivered: the subscribers re-read their heads once.
                    self._deliver(None)
                    while not stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self._deliver(parse_payload(note.payload))
            except psycopg.Error as exc:
                self.listening.clear()
                self.reconnects += 1
                log.warning("reader change feed: listener lost the database (%s); again", exc)
                stop.wait(delay)
                delay = min(delay * 2, RECONNECT_MAX_S)

    # --- SQLite ---
    def _heads(self) -> dict[str, int]:
        h = reader_change_heads.c
        with self._engine.connect() as conn:
            return {r.org_id: int(r.seq) for r in conn.execute(sa.select(h.org_id, h.seq))}

    def _poll(self, stop: threading.Event) -> None:
        try:
            first = self._heads()
        except sa.exc.DBAPIError as exc:
            log.warning("reader change feed: cannot read the log heads (%s)", exc)
            first = {}
        with self._lock:
            for org_id, seq in first.items():
                self._known[org_id] = max(seq, self._known.get(org_id, 0))
        self.listening.set()
        while not stop.wait(self._poll_s):
            try:
                heads = self._heads()
            except sa.exc.DBAPIError as exc:  # busy or gone: the next poll tries again
                log.warning("reader change feed: cannot read the log heads (%s)", exc)
                continue
            with self._lock:
                moved = {o: s for o, s in heads.items() if s > self._known.get(o, 0)}
                self._known.update(moved)
            if moved:
                self._deliver(moved)


def _file_database(engine: Engine) -> bool:
    database = engine.url.database
    return bool(database) and database != ":memory:" and not str(database).startswith("file:")
