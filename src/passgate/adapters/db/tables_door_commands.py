"""The table of remote door commands (services/readers/door_commands.py)."""

from __future__ import annotations

import sqlalchemy as sa

from passgate.adapters.db.tables import (
    ID,
    UTCDateTime,
    _created,
    _id,
    _org,
    metadata,
    register_table,
)
from passgate.services.readers.door_commands import DoorCommand

door_commands = sa.Table(
    "door_commands",
    metadata,
    _id(),
    _org(),
    # No foreign keys to the door or reader: a command is a record of what was asked and
    # what came of it, kept when the door or reader is deleted later.
    sa.Column("door_id", ID, nullable=False),
    sa.Column("reader_id", ID, nullable=False),
    sa.Column("requested_by", ID, nullable=False),
    _created(),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("reason", sa.String(40), nullable=True),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
    # The reader hub asks for the open commands of an organization on every pass.
    sa.Index("ix_door_commands_org_state", "org_id", "state"),
)

register_table(DoorCommand, door_commands)
