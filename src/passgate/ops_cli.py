"""`passgate backup` and `passgate restore`: the embedded database, online, with progress."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from passgate.config import Settings

database_option = click.option(
    "--database-url",
    envvar="PASSGATE_DATABASE_URL",
    default=None,
    help="SQLite database URL [env PASSGATE_DATABASE_URL; default sqlite:///passgate.db]",
)


def _database(database_url: str | None) -> Path:
    from passgate.adapters.db.backup import sqlite_path

    url = database_url if database_url is not None else Settings().database_url
    return sqlite_path(Settings(database_url=url).database_url)


class _Bar:
    """click's progress bar fed with (pages done, total pages) from the backup API."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None
        self.done = 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@click.command()
@database_option
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace OUT if it exists")
def backup(database_url: str | None, out: Path, force: bool) -> None:
    """Copy the SQLite database to OUT while Passgate keeps running.

    PostgreSQL: use pg_dump (see docs/operations.md).
    """
    from passgate.adapters.db import backup as bk

    database = _database(database_url)
    started = time.monotonic()
    bar = _Bar("backing up")
    try:
        result = bk.backup(database, out, progress=bar, overwrite=force)
    finally:
        bar.close()
    click.echo(
        f"backed up {database} to {result.path}: {result.pages} pages, "
        f"{result.bytes / 2**20:.1f} MiB, schema revision {result.revision}, "
        f"in {time.monotonic() - started:.2f} s"
    )


@click.command()
@database_option
@click.argument("backup_file", metavar="BACKUP", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask before replacing the database")
def restore(database_url: str | None, backup_file: Path, yes: bool) -> None:
    """Replace the SQLite database with BACKUP. Stop every Passgate process first.

    A backup from an older version is migrated forward by the next `passgate migrate`
    (or `serve`). PostgreSQL: use pg_restore (see docs/operations.md).
    """
    from passgate.adapters.db import backup as bk
    from passgate.adapters.db import migrate as mig

    database = _database(database_url)
    if database.exists() and not yes:
        click.confirm(f"replace {database} with {backup_file}?", abort=True)
    started = time.monotonic()
    bar = _Bar("restoring")
    try:
        result = bk.restore(backup_file, database, known=mig.known_revisions(), progress=bar)
    finally:
        bar.close()
    behind = "" if (result.revision,) == mig.heads() else "; run `passgate migrate` next"
    click.echo(
        f"restored {database} from {backup_file}: {result.pages} pages, "
        f"{result.bytes / 2**20:.1f} MiB, schema revision {result.revision}, "
        f"in {time.monotonic() - started:.2f} s{behind}"
    )
