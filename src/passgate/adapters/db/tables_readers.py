"""Tables of the reader gateway: reader links, reader keys and Aliro reader groups."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from passgate.adapters.db.tables import (
    ID,
    UTCDateTime,
    _created,
    _id,
    _org,
    metadata,
    register_table,
)
from passgate.services.ports import AliroReaderGroup, ReaderLink, ReaderOrgKey

reader_links = sa.Table(
    "reader_links",
    metadata,
    # Same id as the reader; no foreign key so deleting a reader stays a one-table affair
    # (the gateway checks the readers row on every connection and cuts deleted ones off).
    _id(),
    _org(),
    sa.Column("public_key", sa.String(400), nullable=True),
    sa.Column("pairing_code_hash", sa.String(64), nullable=True, unique=True),
    sa.Column("pairing_expires_at", UTCDateTime(), nullable=True),
    sa.Column("paired_at", UTCDateTime(), nullable=True),
    sa.Column("tamper_seq", sa.BigInteger, nullable=False),
    sa.Column("aliro_public_key", sa.String(130), nullable=True),
    sa.Column("certificate", sa.String(1200), nullable=True),
    sa.Column("certificate_group", sa.String(32), nullable=True),
    _created(),
)

reader_org_keys = sa.Table(
    "reader_org_keys",
    metadata,
    _id(),
    sa.Column("org_id", ID, sa.ForeignKey("organizations.id"), nullable=False, unique=True),
    sa.Column("signing_key_sealed", sa.String(1000), nullable=False),
    sa.Column("public_key", sa.String(400), nullable=False),
    _created(),
)

aliro_reader_groups = sa.Table(
    "aliro_reader_groups",
    metadata,
    _id(),
    _org(),
    sa.Column("group_identifier", sa.String(32), nullable=False, unique=True),
    sa.Column("issuer_key_sealed", sa.String(1000), nullable=False),
    sa.Column("public_key", sa.String(130), nullable=False),
    sa.Column("state", sa.String(10), nullable=False),
    _created(),
)


class SqlReaderDirectory:
    """Unscoped look-ups that run before the organization is known (pairing, connect)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def org_of_pairing_code(self, code_hash: str) -> str | None:
        c = reader_links.c
        with self._engine.connect() as conn:
            found = conn.execute(
                sa.select(c.org_id).where(c.pairing_code_hash == code_hash)
            ).scalar_one_or_none()
        return found

    def org_of_reader(self, reader_id: str) -> str | None:
        c = reader_links.c
        with self._engine.connect() as conn:
            found = conn.execute(sa.select(c.org_id).where(c.id == reader_id)).scalar_one_or_none()
        return found


register_table(ReaderLink, reader_links)
register_table(ReaderOrgKey, reader_org_keys)
register_table(AliroReaderGroup, aliro_reader_groups)
