"""Tables of the mobile app's own credentials (R27, MotionSense)."""

from __future__ import annotations

import sqlalchemy as sa

from passgate.adapters.db.tables import (
    ID,
    UTCDateTime,
    _created,
    _id,
    _org,
    _same_org,
    metadata,
    register_table,
)
from passgate.domain import model as m

app_credentials = sa.Table(
    "app_credentials",
    metadata,
    _id(),
    _org(),
    sa.Column("member_id", ID, nullable=False, index=True),
    sa.Column("device_id", sa.String(100), nullable=False),
    sa.Column("public_key", sa.String(130), nullable=False),
    # Key ids are global: one key never means two credentials, in any organization.
    sa.Column("key_id", sa.String(64), nullable=False, unique=True),
    sa.Column("status", sa.String(10), nullable=False),
    _created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("suspended_at", UTCDateTime(), nullable=True),
    sa.Column("deleted_at", UTCDateTime(), nullable=True),
    sa.Column("last_used_at", UTCDateTime(), nullable=True),
    _same_org("member_id", "members"),
)

register_table(m.AppCredential, app_credentials)
