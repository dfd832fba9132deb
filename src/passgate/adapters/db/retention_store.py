"""The retention job's deletes (services.retention says what; this says how, in SQL)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from passgate.adapters.db import tables_passes, tables_sso
from passgate.adapters.db.tables import metadata

_REGISTERED = (tables_passes.wallet_logs, tables_sso.sso_login_states)  # their tables too


class SqlRetentionStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def delete_before(self, table: str, column: str, before: datetime) -> int:
        # Names come from the service's fixed rules; an unknown one is a programming error.
        target = metadata.tables[table]
        stamp = target.c[column]
        with self._engine.begin() as conn:
            result = conn.execute(sa.delete(target).where(stamp.is_not(None), stamp < before))
        return int(result.rowcount or 0)
