"""remote door commands (remote unlock)

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import passgate.adapters.db.tables

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "door_commands",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("door_id", sa.String(length=40), nullable=False),
        sa.Column("reader_id", sa.String(length=40), nullable=False),
        sa.Column("requested_by", sa.String(length=40), nullable=False),
        sa.Column(
            "created_at", passgate.adapters.db.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "expires_at", passgate.adapters.db.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column(
            "finished_at", passgate.adapters.db.tables.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_door_commands_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_door_commands")),
    )
    op.create_index(op.f("ix_door_commands_org_id"), "door_commands", ["org_id"])
    op.create_index("ix_door_commands_org_state", "door_commands", ["org_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_door_commands_org_state", table_name="door_commands")
    op.drop_index(op.f("ix_door_commands_org_id"), table_name="door_commands")
    op.drop_table("door_commands")
