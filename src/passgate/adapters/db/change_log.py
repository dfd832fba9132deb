"""The reader change log: what readers need to hear about, written by the write itself.

Every write the repositories make to a table readers depend on (``WATCHED``) notes which
reader-facing objects it touched; the unit of work appends those notes as rows of
``reader_changes`` under one new sequence number per organization, in the same
transaction, just before it commits. No service has to remember to do it. On
PostgreSQL the same transaction notifies ``CHANNEL`` (``adapters.db.change_feed``
wakes every process's reader hub from it); the log stays the source of truth.

Order: the sequence number is taken from the organization's row in
``reader_change_heads``, incremented in the transaction (an upsert). On PostgreSQL the
row stays locked until the commit, so two transactions of one organization take their
numbers one after the other and become visible in that order; SQLite serializes all
writes already. A reader of the log that saw seq N has therefore seen every entry <= N.

Notes name objects in the readers' terms, from the row before and after the write:

* ``credential`` key id (Apple Pass device keys and app keys), ``pass`` pass id;
* ``member`` member id (members, their access rights, their passes and app keys);
* ``group`` group id (groups and their doors), ``schedule`` schedule id;
* ``door``, ``reader`` (readers and their links), ``org`` (the organization, its
  subscriptions and SSO connections, i.e. eligibility), ``aliro_group``;
* ``command`` reader id: a remote unlock command was written for that reader (inserts
  only; it changes no cache content, it tells the hub holding the reader to send it).

An update is noted only when a column readers see changed (a reader's last seen or a
pass's last use are not), so heartbeats and taps leave the log alone.

Retention: every ``PRUNE_EVERY`` sequence numbers the append also deletes the
organization's entries that are both older than the last ``keep_entries`` sequence
numbers and older than ``keep_s`` seconds; ``pruned_to`` in the head row is then the
highest sequence number no longer in the log (the horizon a reconnecting reader's
version must not be below to be served from the log).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from passgate.adapters.db.bulk import bulk_upsert
from passgate.adapters.db.tables import ID, UTCDateTime, metadata
from passgate.services.readers.door_commands import NOTE as COMMAND

reader_change_heads = sa.Table(
    "reader_change_heads",
    metadata,
    # No foreign key: the log outlives nothing and is deleted with nothing.
    sa.Column("org_id", ID, primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("pruned_to", sa.BigInteger, nullable=False),
)

reader_changes = sa.Table(
    "reader_changes",
    metadata,
    sa.Column("org_id", ID, primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("object_id", sa.String(100), primary_key=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    # An object's latest entry (the dashboard's revocation view).
    sa.Index("ix_reader_changes_object", "org_id", "kind", "object_id", "seq"),
)

# Per reader: the version its agent reported applied (committed to its store), the digest
# the server sent with that version, and when. Written by the hub in batches.
reader_sync = sa.Table(
    "reader_sync",
    metadata,
    sa.Column("reader_id", ID, primary_key=True),
    sa.Column("org_id", ID, nullable=False, index=True),
    sa.Column("applied_version", sa.BigInteger, nullable=False),
    sa.Column("applied_digest", sa.String(64), nullable=False),
    sa.Column("applied_at", UTCDateTime(), nullable=False),
)

PRUNE_EVERY = 64
# PostgreSQL: each append notifies this channel with "<org id> <seq>" in its transaction
# (delivered at commit); adapters.db.change_feed listens to it in every process.
CHANNEL = "passgate_reader_changes"

Note = tuple[str, str]  # (kind, object id)
Keys = Callable[[Mapping[str, Any]], Iterable[Note]]


@dataclass(frozen=True)
class Watched:
    """A table readers depend on: the columns they see, and what a row names."""

    columns: frozenset[str] | None  # None: every column
    keys: Keys
    org_column: str = "org_id"
    inserts_only: bool = False  # updates and deletes of its rows note nothing

    def reads(self, column: str) -> bool:
        return self.columns is None or column in self.columns


def _w(
    columns: str | None, keys: Keys, org_column: str = "org_id", *, inserts_only: bool = False
) -> Watched:
    return Watched(
        None if columns is None else frozenset(columns.split()), keys, org_column, inserts_only
    )


WATCHED: dict[str, Watched] = {
    "pass_devices": _w(
        "pass_id public_key key_id status",
        lambda r: [("credential", r["key_id"]), ("pass", r["pass_id"])],
    ),
    "apple_passes": _w(
        "member_id status", lambda r: [("pass", r["id"]), ("member", r["member_id"])]
    ),
    "app_credentials": _w(
        "member_id public_key key_id status",
        lambda r: [("credential", r["key_id"]), ("member", r["member_id"])],
    ),
    "members": _w("status", lambda r: [("member", r["id"])]),
    "access_rights": _w(
        "member_id group_id valid_from valid_until", lambda r: [("member", r["member_id"])]
    ),
    "groups": _w("schedule_id", lambda r: [("group", r["id"])]),
    "group_doors": _w(None, lambda r: [("group", r["group_id"])]),
    "schedules": _w("windows holidays", lambda r: [("schedule", r["id"])]),
    "doors": _w("timezone lockdown staleness_limit_s schedule_id", lambda r: [("door", r["id"])]),
    "readers": _w("door_id model tamper_protection tampered", lambda r: [("reader", r["id"])]),
    "reader_links": _w("public_key tamper_seq", lambda r: [("reader", r["id"])]),
    "organizations": _w(None, lambda r: [("org", r["id"])], org_column="id"),
    "subscriptions": _w(None, lambda r: [("org", r["org_id"])]),
    "sso_connections": _w(None, lambda r: [("org", r["org_id"])]),  # eligibility (R1)
    "aliro_reader_groups": _w("state public_key", lambda r: [("aliro_group", r["id"])]),
    # A new remote unlock command: the hub of the process holding the reader sends it.
    # Its later states (sent, done, expired) concern no reader.
    "door_commands": _w(None, lambda r: [(COMMAND, r["reader_id"])], inserts_only=True),
}


class ChangeNotes:
    """What one unit of work touched, per organization (filled by the repositories)."""

    def __init__(self) -> None:
        self.by_org: dict[str, set[Note]] = defaultdict(set)

    def row(
        self, table: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
    ) -> None:
        spec = WATCHED.get(table)
        if spec is None or (spec.inserts_only and before is not None):
            return
        if (
            before is not None
            and after is not None
            and spec.columns is not None
            and all(before.get(c) == after.get(c) for c in spec.columns if c in after)
        ):
            return  # nothing a reader sees changed
        for row in (before, after):
            if row is not None:
                self.by_org[str(row[spec.org_column])].update(spec.keys(row))

    def add(self, org_id: str, notes: Iterable[Note]) -> None:
        self.by_org[org_id].update(notes)

    def __bool__(self) -> bool:
        return any(self.by_org.values())


def watched(table: sa.Table) -> bool:
    return table.name in WATCHED


def append(
    conn: sa.Connection,
    notes: ChangeNotes,
    *,
    keep_entries: int,
    keep_s: float,
    now: datetime | None = None,
) -> dict[str, int]:
    """Append each organization's notes under its next sequence number; returns them.

    Organizations go in id order, so two transactions touching the same two never wait
    for each other's head rows crosswise.
    """
    at = now or datetime.now(UTC)
    out: dict[str, int] = {}
    for org_id in sorted(notes.by_org):
        entries = notes.by_org[org_id]
        if not entries:
            continue
        seq = _next_seq(conn, org_id)
        conn.execute(
            sa.insert(reader_changes),
            [
                {"org_id": org_id, "seq": seq, "kind": kind, "object_id": str(oid)[:100], "at": at}
                for kind, oid in sorted(entries)
            ],
        )
        if seq % PRUNE_EVERY == 0:
            prune(conn, org_id, seq, keep_entries=keep_entries, keep_s=keep_s, now=at)
        if conn.dialect.name == "postgresql":
            # Sent only if this transaction commits, and only after it is visible.
            conn.execute(sa.select(sa.func.pg_notify(CHANNEL, f"{org_id} {seq}")))
        out[org_id] = seq
    return out


def _next_seq(conn: sa.Connection, org_id: str) -> int:
    h = reader_change_heads
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    stmt = (
        insert(h)
        .values(org_id=org_id, seq=1, pruned_to=0)
        .on_conflict_do_update(index_elements=[h.c.org_id], set_={"seq": h.c.seq + 1})
        .returning(h.c.seq)
    )
    return int(conn.execute(stmt).scalar_one())


def prune(
    conn: sa.Connection,
    org_id: str,
    head: int,
    *,
    keep_entries: int,
    keep_s: float,
    now: datetime,
) -> int:
    """Delete entries outside both the last ``keep_entries`` and the last ``keep_s``."""
    c = reader_changes.c
    cutoff = head - keep_entries
    if cutoff <= 0:
        return 0
    young = sa.select(sa.func.min(c.seq)).where(
        c.org_id == org_id, c.at >= now - timedelta(seconds=keep_s)
    )
    first_young = conn.execute(young).scalar_one_or_none()
    limit = cutoff if first_young is None else min(cutoff, int(first_young) - 1)
    if limit <= 0:
        return 0
    gone = conn.execute(sa.delete(reader_changes).where(c.org_id == org_id, c.seq <= limit))
    h = reader_change_heads
    conn.execute(
        sa.update(h).where(h.c.org_id == org_id, h.c.pruned_to < limit).values(pruned_to=limit)
    )
    return int(gone.rowcount)


class SqlReaderChanges:
    """The log, read (for the reader hub) inside one unit of work."""

    def __init__(self, conn: sa.Connection, notes: ChangeNotes | None = None) -> None:
        self._conn = conn
        self._notes = notes

    def touch(self, org_id: str, kind: str, object_id: str) -> None:
        """Note a change no row write shows (content that changes with the clock)."""
        if self._notes is None:
            raise RuntimeError("a read-only unit of work cannot append to the change log")
        self._notes.add(org_id, [(kind, object_id)])

    def heads(self, org_ids: Iterable[str]) -> dict[str, tuple[int, int]]:
        """Organization -> (last sequence number, horizon) for those with a log."""
        h = reader_change_heads
        ids = sorted(set(org_ids))
        if not ids:
            return {}
        rows = self._conn.execute(
            sa.select(h.c.org_id, h.c.seq, h.c.pruned_to).where(h.c.org_id.in_(ids))
        )
        return {r.org_id: (int(r.seq), int(r.pruned_to)) for r in rows}

    def after(self, org_id: str, seq: int, upto: int) -> list[tuple[int, str, str]]:
        """Entries with ``seq < entry <= upto``, in order: (seq, kind, object id)."""
        c = reader_changes.c
        rows = self._conn.execute(
            sa.select(c.seq, c.kind, c.object_id)
            .where(c.org_id == org_id, c.seq > seq, c.seq <= upto)
            .order_by(c.seq, c.kind, c.object_id)
        )
        return [(int(r.seq), r.kind, r.object_id) for r in rows]

    def last_seq(self, org_id: str, kind: str, object_id: str) -> int | None:
        c = reader_changes.c
        found = self._conn.execute(
            sa.select(sa.func.max(c.seq)).where(
                c.org_id == org_id, c.kind == kind, c.object_id == object_id
            )
        ).scalar_one_or_none()
        return None if found is None else int(found)

    def applied(self, org_id: str) -> dict[str, tuple[int, str, datetime]]:
        """Reader -> (applied version, its digest, when) for the organization's readers."""
        c = reader_sync.c
        rows = self._conn.execute(
            sa.select(c.reader_id, c.applied_version, c.applied_digest, c.applied_at).where(
                c.org_id == org_id
            )
        )
        return {r.reader_id: (int(r.applied_version), r.applied_digest, r.applied_at) for r in rows}

    def record_applied(self, rows: Iterable[tuple[str, str, int, str, datetime]]) -> None:
        """Store (reader, org, version, digest, at) acks, the latest per reader: one
        upsert statement for the whole batch (a change acked by a thousand readers),
        its values bound as one array per column (adapters/db/bulk.py)."""
        latest: dict[str, dict[str, Any]] = {}
        for reader_id, org_id, version, digest, at in rows:
            known = latest.get(reader_id)
            if known is None or version >= known["applied_version"]:
                latest[reader_id] = {
                    "reader_id": reader_id,
                    "org_id": org_id,
                    "applied_version": version,
                    "applied_digest": digest,
                    "applied_at": at,
                }
        if not latest:
            return
        names = ["reader_id", "org_id", "applied_version", "applied_digest", "applied_at"]
        values = [[latest[k][n] for n in names] for k in sorted(latest)]
        bulk_upsert(self._conn, reader_sync, names, values, "reader_id")
