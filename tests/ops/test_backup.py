"""`passgate backup` / `restore` on SQLite (online backup API); pg_dump on PostgreSQL."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from tests.ops.support import empty_pg_database
from tests.pgserver import _bin

from passgate.adapters.db import migrate
from passgate.bootstrap import Container, build_container
from passgate.cli import CLI_OPERATOR, main
from passgate.config import Settings
from passgate.services import organizations


def _slugs(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT slug FROM organizations ORDER BY slug").fetchall()
    conn.close()
    return [slug for (slug,) in rows]


def _add_org(c: Container, slug: str) -> None:
    organizations.create_organization(
        c.uow_factory, CLI_OPERATOR, name=slug.title(), slug=slug, now=c.clock.now()
    )


def test_backup_while_serving_then_restore(tmp_path: Path) -> None:
    db = tmp_path / "live" / "passgate.db"
    url = f"sqlite:///{db}"
    container = build_container(Settings(database_url=url))
    runner = CliRunner()
    try:
        migrate.upgrade(container.engine)
        _add_org(container, "acme")
        # The change sits in the write-ahead log, not yet in the main file: a plain copy
        # of passgate.db would miss it, the online backup must not.
        assert (db.parent / "passgate.db-wal").stat().st_size > 0
        out = tmp_path / "backups" / "passgate-1.db"
        out.parent.mkdir()
        made = runner.invoke(main, ["backup", "--database-url", url, str(out)])
        assert made.exit_code == 0, made.output
        assert "backed up" in made.output and "MiB" in made.output and " s" in made.output
        assert _slugs(out) == ["acme"]
        again = runner.invoke(main, ["backup", "--database-url", url, str(out)])
        assert again.exit_code == 1 and "exists already (--force replaces it)" in again.output

        _add_org(container, "later")  # made after the backup: gone after the restore
    finally:
        container.close()
    restored = runner.invoke(main, ["restore", "--database-url", url, "--yes", str(out)])
    assert restored.exit_code == 0, restored.output
    assert f"schema revision {migrate.heads()[0]}" in restored.output
    assert _slugs(db) == ["acme"]
    engine = sa.create_engine(url)
    assert migrate.is_current(engine)
    engine.dispose()


def test_restore_refuses_what_is_not_a_passgate_backup(tmp_path: Path) -> None:
    target = tmp_path / "passgate.db"
    url = f"sqlite:///{target}"
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all, but long enough to look like a file " * 20)
    runner = CliRunner()
    for bad, expected in (
        (other, "is not a Passgate backup (no schema version)"),
        (text, "is not a SQLite database"),
        (tmp_path / "missing.db", "no backup at"),
    ):
        result = runner.invoke(main, ["restore", "--database-url", url, "--yes", str(bad)])
        assert result.exit_code == 1, result.output
        assert expected in result.output and "Traceback" not in result.output
    assert not target.exists()


def test_backup_of_postgresql_points_to_pg_dump() -> None:
    url = "postgresql+psycopg://passgate@db.internal/passgate"
    result = CliRunner().invoke(main, ["backup", "--database-url", url, "out.db"])
    assert result.exit_code == 1 and "pg_dump" in result.output


@pytest.mark.postgres
def test_the_documented_pg_dump_and_pg_restore_round_trip(postgres: str, tmp_path: Path) -> None:
    try:
        tools = {name: _bin(name) for name in ("pg_dump", "pg_restore")}
    except RuntimeError as exc:  # an external PASSGATE_TEST_POSTGRES_URL, no local client tools
        pytest.skip(str(exc))
    source = empty_pg_database(postgres, "passgate_dump_source")
    target = empty_pg_database(postgres, "passgate_dump_target")
    container = build_container(Settings(database_url=source))
    try:
        migrate.upgrade(container.engine)
        _add_org(container, "acme")
    finally:
        container.close()
    dump = tmp_path / "passgate.dump"
    libpq = {u: u.replace("postgresql+psycopg://", "postgresql://") for u in (source, target)}
    # The commands docs/operations.md gives, with this test's URLs.
    subprocess.run(
        [tools["pg_dump"], "--format=custom", "--no-owner", f"--file={dump}", libpq[source]],
        check=True,
        capture_output=True,
        timeout=120,
    )
    subprocess.run(
        [tools["pg_restore"], "--no-owner", f"--dbname={libpq[target]}", str(dump)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    restored = CliRunner().invoke(main, ["migrate", "--database-url", target])
    assert restored.exit_code == 0, restored.output
    engine = sa.create_engine(target)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT slug FROM organizations").scalars().all() == ["acme"]
        assert migrate.is_current(engine)
    engine.dispose()


def test_backup_into_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/p.db"
    runner = CliRunner()
    assert runner.invoke(main, ["migrate", "--database-url", url]).exit_code == 0
    out = tmp_path / "no-such-dir" / "b.db"
    result = runner.invoke(main, ["backup", "--database-url", url, str(out)])
    assert result.exit_code == 1 and "no directory" in result.output
    assert "Traceback" not in result.output
