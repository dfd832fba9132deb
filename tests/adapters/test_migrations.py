"""The migrations build exactly the schema tables.py declares, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from passgate.adapters.db import migrate
from passgate.adapters.db.engine import create_engine
from passgate.adapters.db.tables import metadata


def test_upgrade_to_head_matches_the_declared_schema(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        assert migrate.current(engine) == migrate.heads()
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back_up(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        migrate.downgrade(engine, "base")
        assert migrate.current(engine) == ()
        migrate.upgrade(engine)
        assert migrate.current(engine) == migrate.heads()
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: object) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/x.db")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
