"""Unscoped look-ups for the PassKit web service, which learns the tenant only from a serial.

Each query answers with serials and organization ids only; everything else is read
afterwards through an organization-scoped unit of work.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from passgate.adapters.db import tables as t
from passgate.adapters.db.tables import UTCDateTime
from passgate.adapters.db.tables_app import app_credentials
from passgate.adapters.db.tables_passes import (
    wallet_logs,
    wallet_pass_files,
    wallet_registrations,
    wallet_serials,
)
from passgate.domain.pass_records import WalletLog
from passgate.services.ports import StoredPass

_s, _f = wallet_serials.c, wallet_pass_files.c
# Built once: the PassKit GET runs these on every request.
_VERSION_OF = sa.select(_s.org_id, _s.updated_at).where(_s.id == sa.bindparam("serial"))
_STORED_PASS = (
    sa.select(_s.org_id, _s.updated_at, _f.version, _f.signed_with, _f.sealed)
    .select_from(
        wallet_serials.outerjoin(wallet_pass_files, sa.and_(_f.id == _s.id, _f.org_id == _s.org_id))
    )
    .where(_s.id == sa.bindparam("serial"))
)

_r = wallet_registrations.c
_UPDATED = (
    sa.select(_s.id, _s.updated_at)
    .join(wallet_registrations, _r.serial == _s.id)
    .where(_r.device_library_id == sa.bindparam("device"), _r.pass_type_id == sa.bindparam("pt"))
)
_UPDATED_SINCE = _UPDATED.where(_s.updated_at > sa.bindparam("since", type_=UTCDateTime()))


class SqlWalletDirectory:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def org_of_serial(self, serial: str) -> str | None:
        stmt = sa.select(wallet_serials.c.org_id).where(wallet_serials.c.id == serial)
        with self._engine.connect() as conn:
            found = conn.execute(stmt).scalar_one_or_none()
        return None if found is None else str(found)

    def version_of(self, serial: str) -> tuple[str, datetime] | None:
        """(org_id, version) of a serial: enough to answer If-Modified-Since."""
        with self._engine.connect() as conn:
            row = conn.execute(_VERSION_OF, {"serial": serial}).first()
        return None if row is None else (str(row[0]), row[1])

    def stored_pass(self, serial: str) -> StoredPass | None:
        """A serial's version and the stored file next to it (if any), in one read."""
        with self._engine.connect() as conn:
            row = conn.execute(_STORED_PASS, {"serial": serial}).first()
        if row is None:
            return None
        return StoredPass(str(row[0]), row[1], row[2], row[3], row[4])

    def updated_serials(
        self, device_library_id: str, pass_type_id: str, since: datetime | None
    ) -> list[tuple[str, datetime]]:
        params: dict[str, object] = {"device": device_library_id, "pt": pass_type_id}
        stmt = _UPDATED
        if since is not None:
            stmt, params["since"] = _UPDATED_SINCE, since
        with self._engine.connect() as conn:
            return [(str(row[0]), row[1]) for row in conn.execute(stmt, params)]

    def owners_of(self, serials: set[str]) -> dict[str, tuple[str, str]]:
        if not serials:
            return {}
        s = wallet_serials.c
        stmt = sa.select(s.id, s.org_id, s.pass_id).where(s.id.in_(sorted(serials)))
        with self._engine.connect() as conn:
            return {str(a): (str(b), str(c)) for a, b, c in conn.execute(stmt)}

    def key_in_use(self, key_id: str) -> bool:
        """Bound before, in any organization, to a pass device or an app credential."""
        in_passes = sa.select(sa.func.count()).where(t.pass_devices.c.key_id == key_id)
        in_apps = sa.select(sa.func.count()).where(app_credentials.c.key_id == key_id)
        with self._engine.connect() as conn:
            return bool(conn.execute(in_passes).scalar_one() or conn.execute(in_apps).scalar_one())

    def add_logs(self, logs: Sequence[WalletLog], *, keep: int) -> None:
        if not logs:
            return
        c = wallet_logs.c
        with self._engine.begin() as conn:
            conn.execute(sa.insert(wallet_logs), [dataclasses.asdict(x) for x in logs])
            for pass_id in {x.pass_id for x in logs}:
                same = c.pass_id.is_(None) if pass_id is None else c.pass_id == pass_id
                newest = (
                    sa.select(c.id)
                    .where(same)
                    .order_by(c.created_at.desc(), c.id.desc())
                    .limit(keep)
                )
                conn.execute(sa.delete(wallet_logs).where(same, c.id.not_in(newest)))
