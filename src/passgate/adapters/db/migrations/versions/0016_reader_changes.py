"""reader change log (per-organization sequence and entries), reader sync acks,
and access rights by member

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import passgate.adapters.db.tables

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reader_change_heads",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("pruned_to", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_reader_change_heads")),
    )
    op.create_table(
        "reader_changes",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("object_id", sa.String(length=100), nullable=False),
        sa.Column("at", passgate.adapters.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "org_id", "seq", "kind", "object_id", name=op.f("pk_reader_changes")
        ),
    )
    op.create_index(
        "ix_reader_changes_object", "reader_changes", ["org_id", "kind", "object_id", "seq"]
    )
    op.create_index("ix_access_rights_org_member", "access_rights", ["org_id", "member_id"])
    op.create_table(
        "reader_sync",
        sa.Column("reader_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("applied_version", sa.BigInteger(), nullable=False),
        sa.Column("applied_digest", sa.String(length=64), nullable=False),
        sa.Column(
            "applied_at", passgate.adapters.db.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("reader_id", name=op.f("pk_reader_sync")),
    )
    op.create_index(op.f("ix_reader_sync_org_id"), "reader_sync", ["org_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_reader_sync_org_id"), table_name="reader_sync")
    op.drop_table("reader_sync")
    op.drop_index("ix_access_rights_org_member", table_name="access_rights")
    op.drop_index("ix_reader_changes_object", table_name="reader_changes")
    op.drop_table("reader_changes")
    op.drop_table("reader_change_heads")
