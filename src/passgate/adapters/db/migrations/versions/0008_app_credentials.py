"""app credentials (MotionSense, R27)

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import passgate.adapters.db.tables

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = passgate.adapters.db.tables.UTCDateTime(timezone=True)
    op.create_table(
        "app_credentials",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("member_id", sa.String(length=40), nullable=False),
        sa.Column("device_id", sa.String(length=100), nullable=False),
        sa.Column("public_key", sa.String(length=130), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("updated_at", when, nullable=False),
        sa.Column("suspended_at", when, nullable=True),
        sa.Column("deleted_at", when, nullable=True),
        sa.Column("last_used_at", when, nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id", "member_id"], ["members.org_id", "members.id"], name="fk_member_id_same_org"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_app_credentials_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_credentials")),
        sa.UniqueConstraint("key_id", name=op.f("uq_app_credentials_key_id")),
    )
    op.create_index(op.f("ix_app_credentials_org_id"), "app_credentials", ["org_id"], unique=False)
    op.create_index(
        op.f("ix_app_credentials_member_id"), "app_credentials", ["member_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_app_credentials_member_id"), table_name="app_credentials")
    op.drop_index(op.f("ix_app_credentials_org_id"), table_name="app_credentials")
    op.drop_table("app_credentials")
