"""One multi-row INSERT for a batch of rows, skipping those whose unique key exists.

SQLAlchemy's generic multi-row insert spends its time building and binding thousands
of parameters per statement; this renders the statement once per batch shape and binds
the values through each column type's own bind processor (the same conversions as any
other statement: aware datetimes to UTC, JSON to text, booleans):

* PostgreSQL: ``INSERT ... SELECT * FROM unnest(%s::type[], ...)``, one array per
  column, so the statement text is the same for any batch size;
* SQLite: ``INSERT ... VALUES (?, ...), (?, ...)``, one group per row.

Both end in ``ON CONFLICT (key) DO NOTHING RETURNING key``, so the caller learns which
rows went in; the database's unique index decides, also between concurrent batches.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa


def bulk_insert_new(
    conn: sa.Connection,
    table: sa.Table,
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    key: str,
) -> list[Any]:
    """Insert ``rows`` (values in the order of ``names``); returns the ``key`` of each row
    stored now. Rows whose key already exists, or repeats an earlier row's, are skipped."""
    if not rows:
        return []
    dialect = conn.dialect
    quote = dialect.identifier_preparer.quote
    columns = [table.c[n] for n in names]
    procs = [c.type._cached_bind_processor(dialect) for c in columns]
    target = f"{quote(table.name)} ({', '.join(quote(n) for n in names)})"
    tail = f"ON CONFLICT ({quote(key)}) DO NOTHING RETURNING {quote(key)}"
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
        result = conn.exec_driver_sql(sql, tuple(arrays))
    else:
        flat: list[Any] = []
        for r in rows:
            flat.extend(proc(v) if proc else v for proc, v in zip(procs, r, strict=True))
        group = "(" + ", ".join("?" * len(columns)) + ")"
        groups = ", ".join([group] * len(rows))
        sql = f"INSERT INTO {target} VALUES {groups} {tail}"  # noqa: S608
        result = conn.exec_driver_sql(sql, tuple(flat))
    return [row[0] for row in result]
