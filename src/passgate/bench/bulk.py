"""Bulk loading for the benchmarks' sample data, the way an operator imports a dump.

Rows are plain tuples in a table's column order, converted by the column types' own
bind processors (so a stored row is byte for byte what the product writes: UTC
timestamps, JSON text, booleans). PostgreSQL takes them through ``COPY ... FROM STDIN``
(psycopg's copy); SQLite through one ``executemany`` of a prepared INSERT per chunk.

:func:`without_secondary_indexes` drops a table's plain (non-unique) indexes for the
load and builds them again afterwards, as ``pg_restore`` does: one sort per index
instead of a B-tree insertion per row. Unique constraints and foreign keys stay, so
the load is checked as any insert is.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa


def _processors(
    table: sa.Table, names: Sequence[str], dialect: sa.Dialect
) -> list[Callable[[Any], Any] | None]:
    out: list[Callable[[Any], Any] | None] = []
    for name in names:
        col_type = table.c[name].type
        if dialect.name == "postgresql" and isinstance(col_type, sa.JSON):
            # COPY reads JSON as text; the column's own processor hands psycopg a wrapper.
            out.append(json.dumps)
            continue
        out.append(col_type.dialect_impl(dialect).bind_processor(dialect))
    return out


def load(
    conn: sa.Connection, table: sa.Table, names: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Insert ``rows`` (tuples of ``names``' values) into ``table`` in ``conn``'s
    transaction."""
    if set(names) != set(table.c.keys()):
        raise ValueError(f"a bulk load of {table.name} names every column once")
    if not rows:
        return
    procs = _processors(table, names, conn.dialect)
    converted = [
        tuple(v if p is None or v is None else p(v) for p, v in zip(procs, row, strict=True))
        for row in rows
    ]
    columns = ", ".join(names)
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
            for row in converted:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in names)
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({columns}) VALUES ({marks})", converted)  # noqa: S608 (names from the schema)


@contextlib.contextmanager
def bulk_connection(engine: sa.Engine) -> Iterator[sa.Connection]:
    """One connection for a load, committing per chunk (``with conn.begin():``).

    On SQLite it writes with ``synchronous=OFF`` (no fsync per commit), as an import
    tool does: a load cut short is run again from the start. The connection goes back
    to the pool with the engine's durable setting (FULL) restored; the server measured
    afterwards opens its own connections with it.
    """
    with engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            yield conn
            return
        raw = conn.connection.driver_connection
        assert raw is not None
        # Outside any transaction (SQLite refuses the change inside one).
        raw.execute("PRAGMA synchronous=OFF")
        try:
            yield conn
        finally:
            conn.rollback()
            raw.execute("PRAGMA synchronous=FULL")


@contextlib.contextmanager
def without_secondary_indexes(
    engine: sa.Engine, tables: Sequence[sa.Table], phases: dict[str, float] | None = None
) -> Iterator[None]:
    """Drop the tables' non-unique indexes for the block; build them again after it
    (``phases["indexes_s"]``: the seconds the build took)."""
    indexes = [
        ix
        for table in tables
        for ix in sorted(table.indexes, key=lambda i: str(i.name))
        if not ix.unique
    ]
    with engine.begin() as conn:
        for ix in indexes:
            ix.drop(conn, checkfirst=True)
    try:
        yield
    finally:
        started = time.perf_counter()
        with engine.begin() as conn:
            for ix in indexes:
                ix.create(conn, checkfirst=True)
        if phases is not None:
            phases["indexes_s"] = time.perf_counter() - started
