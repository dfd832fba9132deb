"""What an operator watches, read from the database: readers by state, the outbox.

These numbers are shared by every process (any API process can report them, the
worker needs no endpoint of its own), so they are read at scrape time with a few
grouped counts rather than counted in one process's memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from passgate.adapters.db.tables import outbox, readers
from passgate.services.ports import OpsSnapshot


class SqlOpsStats:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def snapshot(self, now: datetime) -> OpsSnapshot:
        r, o = readers.c, outbox.c
        state = sa.case(
            (o.delivered_at.is_not(None), "delivered"),
            (o.failed_at.is_not(None), "failed"),
            (o.attempts > 0, "retrying"),
            else_="queued",
        ).label("state")
        pending = sa.and_(o.delivered_at.is_(None), o.failed_at.is_(None))
        with self._engine.connect() as conn:
            online, tampered, total = conn.execute(
                sa.select(
                    sa.func.count().filter(r.online.is_(True)),
                    sa.func.count().filter(r.tampered.is_(True)),
                    sa.func.count(),
                )
            ).one()
            counts = conn.execute(
                sa.select(
                    o.topic, state, sa.func.count(), sa.func.coalesce(sa.func.sum(o.attempts), 0)
                ).group_by(o.topic, state)
            ).all()
            oldest = conn.execute(
                sa.select(o.topic, sa.func.min(o.created_at)).where(pending).group_by(o.topic)
            ).all()
        return OpsSnapshot(
            readers={"online": online, "offline": total - online, "tampered": tampered},
            outbox={(topic, st): n for topic, st, n, _ in counts},
            oldest_pending_s={
                topic: max(0.0, (now - first).total_seconds())
                for topic, first in oldest
                if first is not None
            },
            failed_attempts=_sum_by_topic((topic, int(failed)) for topic, _, _, failed in counts),
        )


def _sum_by_topic(pairs: Iterable[tuple[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for topic, n in pairs:
        total[topic] = total.get(topic, 0) + n
    return total
