"""Backups of the embedded database with SQLite's online backup API.

The backup API copies the database page by page through SQLite itself, so it is
consistent while servers keep writing (a plain file copy of a WAL database is not),
and a restore writes through SQLite into the target, WAL included. PostgreSQL is
backed up with its own tools (pg_dump / pg_restore, see docs/operations.md).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from passgate.domain.errors import PreconditionFailed, ValidationError

# Called with (pages copied so far, total pages) as the copy goes.
Progress = Callable[[int, int], None]
_STEP_PAGES = 256


@dataclass(frozen=True)
class BackupResult:
    path: Path
    pages: int
    bytes: int
    revision: str | None


def sqlite_path(database_url: str) -> Path:
    """The file of a SQLite URL; refuses PostgreSQL and in-memory databases."""
    url = sa.make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise PreconditionFailed(
            "passgate backup and restore handle the embedded SQLite database; back up "
            "PostgreSQL with pg_dump and restore with pg_restore (docs/operations.md)",
            code="not_sqlite",
        )
    if not url.database or url.database == ":memory:":
        raise ValidationError("an in-memory database cannot be backed up", field="database_url")
    return Path(url.database)


@contextlib.contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(str(path))
    try:
        yield conn
    finally:
        conn.close()


def _revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    return str(row[0]) if row else None


def _copy(source: sqlite3.Connection, target: sqlite3.Connection, progress: Progress) -> int:
    total = 0

    def step(_status: int, remaining: int, pages: int) -> None:
        nonlocal total
        total = pages
        progress(pages - remaining, pages)

    source.backup(target, pages=_STEP_PAGES, progress=step)
    return total


def _check(conn: sqlite3.Connection, what: str) -> None:
    result = conn.execute("PRAGMA integrity_check").fetchone()
    if result is None or result[0] != "ok":
        raise PreconditionFailed(f"{what} failed SQLite's integrity check", code="corrupt")


def backup(
    database: Path, out: Path, *, progress: Progress, overwrite: bool = False
) -> BackupResult:
    """Copy the live database at ``database`` to ``out`` (a new file, written atomically)."""
    if not database.is_file():
        raise PreconditionFailed(f"no database at {database}", code="not_found")
    if not out.parent.is_dir():
        raise PreconditionFailed(
            f"no directory {out.parent} to write the backup in", code="not_found"
        )
    if out.exists() and not overwrite:
        raise PreconditionFailed(f"{out} exists already (--force replaces it)", code="exists")
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    with _connect(database) as source, _connect(partial) as target:
        pages = _copy(source, target, progress)
        _check(target, "the backup")
        revision = _revision(target)
    if revision is None:
        partial.unlink()
        raise PreconditionFailed(f"{database} has no Passgate schema", code="not_passgate")
    os.replace(partial, out)
    return BackupResult(out, pages, out.stat().st_size, revision)


def restore(
    backup_file: Path, database: Path, *, known: tuple[str, ...], progress: Progress
) -> BackupResult:
    """Replace the database at ``database`` with ``backup_file``'s contents.

    ``known`` are the revisions this code can run on (after migrating forward); a
    backup made by a newer Passgate is refused rather than half-understood.
    """
    if not backup_file.is_file():
        raise PreconditionFailed(f"no backup at {backup_file}", code="not_found")
    with _connect(backup_file) as source:
        try:
            _check(source, "the backup")
        except sqlite3.DatabaseError as exc:
            raise PreconditionFailed(
                f"{backup_file} is not a SQLite database", code="not_passgate"
            ) from exc
        revision = _revision(source)
        if revision is None:
            raise PreconditionFailed(
                f"{backup_file} is not a Passgate backup (no schema version)", code="not_passgate"
            )
        if revision not in known:
            raise PreconditionFailed(
                f"{backup_file} is at schema revision {revision}, which this version of "
                "Passgate does not know (made by a newer one?)",
                code="unknown_revision",
            )
        database.parent.mkdir(parents=True, exist_ok=True)
        with _connect(database) as target:
            pages = _copy(source, target, progress)
            _check(target, "the restored database")
    return BackupResult(database, pages, database.stat().st_size, revision)
