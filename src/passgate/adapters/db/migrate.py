"""Schema migrations with Alembic, driven from code (no alembic.ini to find)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from sqlalchemy.engine import Engine

from passgate.adapters.db.engine import IMMEDIATE

MIGRATIONS = Path(__file__).parent / "migrations"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


# Any fixed 64-bit number, the same in every Passgate process: the migration lock's name.
ADVISORY_LOCK_KEY = 0x7061_7373_6761_7465  # "passgate"


def pending(engine: Engine) -> int:
    """How many revisions ``upgrade`` would apply now (0 when that cannot be told)."""
    at = current(engine)
    if len(at) > 1:
        return 0
    try:
        steps = ScriptDirectory.from_config(_config()).iterate_revisions(
            "heads", at[0] if at else "base"
        )
        return sum(1 for _ in steps)
    except RevisionError:  # an unknown revision: upgrade() reports it properly
        return 0


def upgrade(
    engine: Engine, revision: str = "heads", *, on_step: Callable[[str], None] | None = None
) -> None:
    """Upgrade to ``revision``; safe when several processes start at once.

    On PostgreSQL the migration runs under a transaction-scoped advisory lock: the
    first process migrates, the others wait, then find the schema current and do
    nothing (without it, two processes both create the first tables and one fails).
    SQLite serializes writers by itself (BEGIN IMMEDIATE below).
    """
    cfg = _config()
    with engine.connect() as conn:
        conn.execution_options(**{IMMEDIATE: True})
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
                )
            cfg.attributes["connection"] = conn
            if on_step is not None:
                cfg.attributes["on_version_apply"] = lambda **kw: on_step(
                    str(kw["step"].up_revision_id)
                )
            command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a new migration from the difference between tables.py and the database."""
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True)


def current(engine: Engine) -> tuple[str, ...]:
    """The revisions the database is at (several while branches are unmerged)."""
    with engine.connect() as conn:
        return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))


@functools.cache
def heads() -> tuple[str, ...]:
    return tuple(sorted(ScriptDirectory.from_config(_config()).get_heads()))


def known_revisions() -> tuple[str, ...]:
    """Every revision of this code's history (a database at any of them can migrate up)."""
    return tuple(r.revision for r in ScriptDirectory.from_config(_config()).walk_revisions())


def is_current(engine: Engine) -> bool:
    """True when the database is at exactly the revisions this code was written for."""
    return current(engine) == heads()
