"""indexes of the keyset-paged lists (events, Apple Passes)

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_events_org_occurred": ("events", ["org_id", "occurred_at", "id"]),
    "ix_events_org_member_occurred": ("events", ["org_id", "member_id", "occurred_at", "id"]),
    "ix_events_org_door_occurred": ("events", ["org_id", "door_id", "occurred_at", "id"]),
    "ix_events_org_reader_occurred": ("events", ["org_id", "reader_id", "occurred_at", "id"]),
    "ix_apple_passes_org_created": ("apple_passes", ["org_id", "created_at", "id"]),
    "ix_apple_passes_org_status_created": (
        "apple_passes",
        ["org_id", "status", "created_at", "id"],
    ),
}


DENIED = "ix_events_org_denied_occurred"


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns, unique=False)
    denied = sa.column("granted") == sa.false()
    op.create_index(
        DENIED,
        "events",
        ["org_id", "occurred_at", "id"],
        unique=False,
        sqlite_where=denied,
        postgresql_where=denied,
    )


def downgrade() -> None:
    op.drop_index(DENIED, table_name="events")
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table)
