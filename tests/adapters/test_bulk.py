"""Batch writes of adapters/db/bulk.py on both databases: inserts that skip a known key,
upserts that update it, and batches larger than SQLite binds in one statement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from passgate.adapters.db import bulk
from passgate.adapters.db.change_log import SqlReaderChanges, reader_sync
from passgate.bootstrap import Container

AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
NAMES = ["reader_id", "org_id", "applied_version", "applied_digest", "applied_at"]


def _synced(container: Container) -> dict[str, tuple[int, str, datetime]]:
    with container.engine.connect() as conn:
        rows = conn.execute(sa.select(reader_sync).where(reader_sync.c.org_id == "org_bulk"))
        return {r.reader_id: (r.applied_version, r.applied_digest, r.applied_at) for r in rows}


def test_applied_acks_insert_then_update_and_keep_the_latest_per_reader(
    container: Container,
) -> None:
    with container.engine.begin() as conn:
        SqlReaderChanges(conn, None).record_applied(
            [("rdr_1", "org_bulk", 3, "a" * 64, AT), ("rdr_2", "org_bulk", 3, "a" * 64, AT)]
        )
    later = AT + timedelta(seconds=5)
    with container.engine.begin() as conn:
        SqlReaderChanges(conn, None).record_applied(
            [
                ("rdr_1", "org_bulk", 5, "b" * 64, later),
                ("rdr_1", "org_bulk", 4, "c" * 64, later),  # older, in the same batch
                ("rdr_3", "org_bulk", 5, "b" * 64, later),
            ]
        )
    assert _synced(container) == {
        "rdr_1": (5, "b" * 64, later),
        "rdr_2": (3, "a" * 64, AT),
        "rdr_3": (5, "b" * 64, later),
    }


def test_a_batch_larger_than_one_sqlite_statement_is_stored_whole(container: Container) -> None:
    count = bulk._SQLITE_MAX_VALUES // len(NAMES) * 2 + 7  # three SQLite statements
    rows = [[f"rdr_{i}", "org_bulk", 1, "d" * 64, AT] for i in range(count)]
    with container.engine.begin() as conn:
        bulk.bulk_upsert(conn, reader_sync, NAMES, rows, "reader_id")
    with container.engine.begin() as conn:
        bulk.bulk_upsert(conn, reader_sync, NAMES, [[*r[:2], 2, *r[3:]] for r in rows], "reader_id")
    synced = _synced(container)
    assert len(synced) == count
    assert {v for v, _, _ in synced.values()} == {2}
