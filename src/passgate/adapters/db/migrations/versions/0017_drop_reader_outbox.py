"""drop the "reader" outbox rows: the reader hubs follow the change log instead

Nothing writes them any more and nothing ever read their contents; rows left from
earlier versions would stay queued for good.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM outbox WHERE topic = 'reader'")


def downgrade() -> None:
    pass  # the rows marked changes only; nothing to restore
