"""The agent's durable state: one SQLite file in WAL mode with synchronous=FULL.

Everything that must survive a power cut lives here: identity and keys, the last
accepted cache (version, content, when the server last confirmed it), the persistent
keys learned in STANDARD transactions, the tamper latch, and the event queue. An event
is committed (fsync'ed) before the relay moves or the device is told the outcome, and
deleted only when the server acknowledged it; its sequence number is never reused.

The cache is stored as rows: one per credential and per member (``cache_rows``), one per
small section (door, reader, org: ``cache_sections``), with its version in the same
transaction. A delta updates the rows it names, so taking a revocation costs the same
with ten credentials or a hundred thousand.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS persistent_keys (key_id TEXT PRIMARY KEY, public_key BLOB NOT NULL,
                                            secret BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS cache_sections (name TEXT PRIMARY KEY, is_rows INTEGER NOT NULL,
                                           value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cache_rows (section TEXT NOT NULL, k TEXT NOT NULL, v TEXT NOT NULL,
                                       PRIMARY KEY (section, k));
"""

# Object sections with one row per key; every other section is one value.
ROW_SECTIONS = frozenset({"credentials", "members"})


class AgentStore:
    def __init__(self, path: str) -> None:
        if path != ":memory:":
            # Link and Aliro private keys live here: the owner alone may read the file
            # (SQLite gives its -wal and -shm files the main file's mode).
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                os.fchmod(fd, 0o600)
            finally:
                os.close(fd)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- key/value ---------------------------------------------------------------

    def get(self, key: str) -> Any:
        with self._lock:
            row = self._db.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, values: dict[str, Any]) -> None:
        """Write several values in one transaction (None deletes)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for key, value in values.items():
                    if value is None:
                        self._db.execute("DELETE FROM kv WHERE k = ?", (key,))
                    else:
                        self._db.execute(
                            "INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)",
                            (key, json.dumps(value)),
                        )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # --- cache -------------------------------------------------------------------

    def _put_section(self, name: str, value: Any) -> None:
        db = self._db
        db.execute("DELETE FROM cache_rows WHERE section = ?", (name,))
        if name in ROW_SECTIONS and isinstance(value, dict):
            db.execute("INSERT OR REPLACE INTO cache_sections VALUES (?, 1, '')", (name,))
            db.executemany(
                "INSERT INTO cache_rows (section, k, v) VALUES (?, ?, ?)",
                [(name, k, json.dumps(v)) for k, v in value.items()],
            )
        else:
            db.execute(
                "INSERT OR REPLACE INTO cache_sections VALUES (?, 0, ?)", (name, json.dumps(value))
            )

    def _write(self, work: Any, kv: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                work()
                for key, value in kv.items():
                    self._db.execute(
                        "INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (key, json.dumps(value))
                    )
                self._db.execute("DELETE FROM kv WHERE k = 'content'")  # the pre-rows format
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def save_cache(self, version: int, content: dict[str, Any], synced_at: str) -> None:
        """Replace the whole cache (a snapshot), atomically with its version."""

        def work() -> None:
            self._db.execute("DELETE FROM cache_rows")
            self._db.execute("DELETE FROM cache_sections")
            for name, value in content.items():
                self._put_section(name, value)

        self._write(work, {"version": version, "synced_at": synced_at})

    def apply_changes(self, version: int, body: dict[str, Any], synced_at: str) -> None:
        """Apply a checked delta body (``proto.snapshot``) to the rows it names."""
        db = self._db

        def work() -> None:
            for name, changes in body["set"].items():
                if name in ROW_SECTIONS:
                    db.executemany(
                        "INSERT OR REPLACE INTO cache_rows (section, k, v) VALUES (?, ?, ?)",
                        [(name, k, json.dumps(v)) for k, v in changes.items()],
                    )
                else:
                    row = db.execute(
                        "SELECT value FROM cache_sections WHERE name = ?", (name,)
                    ).fetchone()
                    value = {**json.loads(row[0]), **changes}
                    db.execute(
                        "UPDATE cache_sections SET value = ? WHERE name = ?",
                        (json.dumps(value), name),
                    )
            for name, keys in body["unset"].items():
                if name in ROW_SECTIONS:
                    db.executemany(
                        "DELETE FROM cache_rows WHERE section = ? AND k = ?",
                        [(name, k) for k in keys],
                    )
                else:
                    row = db.execute(
                        "SELECT value FROM cache_sections WHERE name = ?", (name,)
                    ).fetchone()
                    value = {k: v for k, v in json.loads(row[0]).items() if k not in set(keys)}
                    db.execute(
                        "UPDATE cache_sections SET value = ? WHERE name = ?",
                        (json.dumps(value), name),
                    )
            for name, value in body["replace"].items():
                self._put_section(name, value)
            for name in body["drop"]:
                db.execute("DELETE FROM cache_rows WHERE section = ?", (name,))
                db.execute("DELETE FROM cache_sections WHERE name = ?", (name,))

        self._write(work, {"version": version, "synced_at": synced_at})

    def clear_cache(self) -> None:
        def work() -> None:
            self._db.execute("DELETE FROM cache_rows")
            self._db.execute("DELETE FROM cache_sections")
            self._db.execute("DELETE FROM kv WHERE k IN ('version', 'synced_at')")

        self._write(work, {})

    def load_cache(self) -> dict[str, Any] | None:
        """The stored cache content (None: none), rebuilt from its rows."""
        with self._lock:
            sections = self._db.execute("SELECT name, is_rows, value FROM cache_sections")
            content: dict[str, Any] = {}
            for name, is_rows, value in sections.fetchall():
                content[name] = {} if is_rows else json.loads(value)
            for section, k, v in self._db.execute("SELECT section, k, v FROM cache_rows"):
                if isinstance(content.get(section), dict):
                    content[section][k] = json.loads(v)
            legacy = self._db.execute("SELECT v FROM kv WHERE k = 'content'").fetchone()
        if not content and legacy is not None:
            found = json.loads(legacy[0])  # an agent upgraded from the one-document format
            return found if isinstance(found, dict) else None
        return content or None

    # --- events ------------------------------------------------------------------

    def add_event(
        self, body: dict[str, Any], persistent: tuple[str, bytes, bytes] | None = None
    ) -> int:
        """Append an event durably (with an optional learned persistent key); its sequence.

        The sequence is one past the highest queued event, and never below the floor that
        :meth:`delete_events` keeps (``next_seq``), so a number is never reused. The event's
        commit writes only its own page (and the learned key's): keeping a counter row up to
        date on every tap would put a second page in every fsync'ed commit.
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                seq = self._next_seq()
                body = {**body, "sequence": seq}
                self._db.execute(
                    "INSERT INTO events (seq, body) VALUES (?, ?)", (seq, json.dumps(body))
                )
                if persistent is not None:
                    self._db.execute(
                        "INSERT OR REPLACE INTO persistent_keys VALUES (?, ?, ?)", persistent
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return seq

    def pending_events(self, limit: int = 200, after: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def _next_seq(self) -> int:
        """The next event's sequence (inside the caller's transaction)."""
        row = self._db.execute(
            "SELECT (SELECT max(seq) FROM events), (SELECT v FROM kv WHERE k = 'next_seq')"
        ).fetchone()
        floor = int(json.loads(row[1])) if row[1] is not None else 1
        return max(floor, (row[0] or 0) + 1)

    def delete_events(self, sequences: Iterable[int]) -> None:
        """Drop acknowledged events; the sequence floor moves past them in the same
        transaction, so numbers stay unused even when the queue empties."""
        seqs = [(int(s),) for s in sequences]
        if not seqs:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO kv (k, v) VALUES ('next_seq', ?)",
                    (json.dumps(self._next_seq()),),
                )
                self._db.executemany("DELETE FROM events WHERE seq = ?", seqs)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def event_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM events").fetchone()[0])

    # --- persistent keys ---------------------------------------------------------------

    def persistent_keys(self) -> list[tuple[str, bytes, bytes]]:
        with self._lock:
            rows = self._db.execute("SELECT key_id, public_key, secret FROM persistent_keys")
            return [(r[0], bytes(r[1]), bytes(r[2])) for r in rows.fetchall()]

    def erase_credential_keys(self) -> None:
        """R14: forget the reader's credential key and every persistent key, durably."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM persistent_keys")
            self._db.execute("DELETE FROM kv WHERE k = 'aliro_key'")
            self._db.execute("COMMIT")
            # Overwrite freed pages and the WAL so the key bytes do not linger on disk.
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.execute("VACUUM")
