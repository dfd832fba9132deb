"""Alembic environment: runs against the connection that ``passgate migrate`` passes in."""

from __future__ import annotations

from alembic import context

from passgate.adapters.db.tables import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `passgate migrate`, which supplies the connection")

# `passgate migrate` passes a callback to report each revision as it is applied.
on_version_apply = config.attributes.get("on_version_apply")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    on_version_apply=on_version_apply,
)
with context.begin_transaction():
    context.run_migrations()
