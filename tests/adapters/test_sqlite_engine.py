"""The embedded database: durable commits and owner-only files."""

from __future__ import annotations

import stat
from pathlib import Path

from passgate.adapters.db import migrate
from passgate.adapters.db.engine import create_engine


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_commits_are_synchronous_full_and_the_files_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "data" / "passgate.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        migrate.upgrade(engine)
        with engine.connect() as conn:
            # 2 = FULL: acknowledged reader events survive a power cut.
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            files = sorted(tmp_path.joinpath("data").iterdir())
            assert path in files and path.with_name("passgate.db-wal") in files
            assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
    finally:
        engine.dispose()


def test_an_existing_database_file_is_narrowed_to_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    create_engine(f"sqlite:///{path}").dispose()
    assert _mode(path) == 0o600
