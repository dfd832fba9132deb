"""One multi-row INSERT for a batch of rows: skipping those whose unique key exists
(``bulk_insert_new``), or updating them (``bulk_upsert``).

SQLAlchemy's generic multi-row insert spends its time building and binding thousands
of parameters per statement; this renders the statement once per batch shape and binds
the values through each column type's own bind processor (the same conversions as any
other statement: aware datetimes to UTC, JSON to text, booleans):

* PostgreSQL: ``INSERT ... SELECT * FROM unnest(%s::type[], ...)``, one array per
  column, so the statement text is the same for any batch size;
* SQLite: ``INSERT ... VALUES (?, ...), (?, ...)``, one group per row.

``bulk_insert_new`` ends in ``ON CONFLICT (key) DO NOTHING RETURNING key``, so the caller
learns which rows went in; the database's unique index decides, also between concurrent
batches. ``bulk_upsert`` ends in ``ON CONFLICT (key) DO UPDATE`` of the other columns.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

# SQLite binds at most 32,766 values per statement (its default since 3.32).
_SQLITE_MAX_VALUES = 32_000


def bulk_insert_new(
    conn: sa.Connection,
    table: sa.Table,
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    key: str,
) -> list[Any]:
    """Insert ``rows`` (values in the order of ``names``); returns the ``key`` of each row
    stored now. Rows whose key already exists, or repeats an earlier row's, are skipped."""
    quote = conn.dialect.identifier_preparer.quote
    tail = f"ON CONFLICT ({quote(key)}) DO NOTHING RETURNING {quote(key)}"
    return [row[0] for part in _insert(conn, table, names, rows, tail) for row in part]


def bulk_upsert(
    conn: sa.Connection,
    table: sa.Table,
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    key: str,
) -> None:
    """Insert ``rows``, or update every other named column of the row whose ``key``
    exists. Each key may appear once in ``rows`` (PostgreSQL refuses to update a row
    twice in one statement)."""
    quote = conn.dialect.identifier_preparer.quote
    sets = ", ".join(f"{quote(n)} = excluded.{quote(n)}" for n in names if n != key)
    for _ in _insert(conn, table, names, rows, f"ON CONFLICT ({quote(key)}) DO UPDATE SET {sets}"):
        pass


def _insert(
    conn: sa.Connection,
    table: sa.Table,
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    tail: str,
) -> Iterator[sa.CursorResult[Any]]:
    """Run the insert, ending in ``tail``; one statement on PostgreSQL, as few on SQLite
    as its limit on bound values allows. Yields each statement's result."""
    if not rows:
        return
    dialect = conn.dialect
    quote = dialect.identifier_preparer.quote
    columns = [table.c[n] for n in names]
    procs = [c.type._cached_bind_processor(dialect) for c in columns]
    target = f"{quote(table.name)} ({', '.join(quote(n) for n in names)})"
    if dialect.name == "postgresql":
        arrays, casts, selects = [], [], []
        for i, col in enumerate(columns):
            values = [r[i] for r in rows]
            if isinstance(col.type, sa.JSON):
                arrays.append([None if v is None else json.dumps(v) for v in values])
                casts.append("%b::text[]")
                selects.append(f"u.c{i}::json")
                continue
            proc = procs[i]
            arrays.append([proc(v) for v in values] if proc else values)
            casts.append(f"%b::{col.type.compile(dialect)}[]")
            selects.append(f"u.c{i}")
        aliases = ", ".join(f"c{i}" for i in range(len(columns)))
        # Names and types come from the schema; every value is a parameter.
        source = f"unnest({', '.join(casts)}) AS u({aliases})"
        picked = ", ".join(selects)
        sql = f"INSERT INTO {target} SELECT {picked} FROM {source} {tail}"  # noqa: S608
        # %b: psycopg sends the arrays in binary, without quoting and escaping each
        # element as text would.
        yield conn.exec_driver_sql(sql, tuple(arrays))
        return
    group = "(" + ", ".join("?" * len(columns)) + ")"
    per_statement = max(1, _SQLITE_MAX_VALUES // len(columns))
    for start in range(0, len(rows), per_statement):
        part = rows[start : start + per_statement]
        flat: list[Any] = []
        for r in part:
            flat.extend(proc(v) if proc else v for proc, v in zip(procs, r, strict=True))
        groups = ", ".join([group] * len(part))
        sql = f"INSERT INTO {target} VALUES {groups} {tail}"  # noqa: S608
        yield conn.exec_driver_sql(sql, tuple(flat))
