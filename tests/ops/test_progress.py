"""Long work reports progress: migrations step by step, with the count and the time taken."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from passgate.adapters.db import migrate
from passgate.adapters.db.engine import create_engine
from passgate.cli import main


def test_each_migration_is_reported_as_it_is_applied(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/p.db")
    try:
        assert migrate.pending(engine) == len(migrate.known_revisions())
        steps: list[str] = []
        migrate.upgrade(engine, on_step=steps.append)
        assert steps == list(reversed(migrate.known_revisions()))  # oldest first
        assert migrate.pending(engine) == 0
    finally:
        engine.dispose()


def test_migrate_says_how_many_it_applied_and_how_long_it_took(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/p.db"
    runner = CliRunner()
    first = runner.invoke(main, ["migrate", "--database-url", url])
    count = len(migrate.known_revisions())
    assert first.exit_code == 0, first.output
    assert f"({count} migration(s) applied in " in first.output and " s)" in first.output
    again = runner.invoke(main, ["migrate", "--database-url", url])
    assert "(0 migration(s) applied in " in again.output
