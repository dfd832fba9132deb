"""Fresh, migrated databases for the benchmarks: SQLite in a temporary directory, and
PostgreSQL either in a server given by URL or in a throwaway cluster started for the run
(loopback only, removed afterwards; as root the cluster belongs to the ``postgres`` user).
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import click
import sqlalchemy as sa

from passgate.adapters.db import migrate
from passgate.adapters.db.engine import create_engine

BACKENDS = ("sqlite", "postgresql")


def _pg_bin(name: str) -> str:
    found = (
        shutil.which(name) or (sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [""])[-1]
    )
    if not found:
        raise click.ClickException(
            f"PostgreSQL's {name} was not found: install PostgreSQL or pass --database-url"
        )
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A PostgreSQL server for this run only; yields its URL (database ``postgres``)."""
    root = Path(tempfile.mkdtemp(prefix="passgate-bench-pg-"))
    as_root = os.geteuid() == 0
    user = "postgres" if as_root else os.environ.get("USER", "postgres")

    def run(*cmd: str) -> None:
        full = ["runuser", "-u", "postgres", "--", *cmd] if as_root else list(cmd)
        done = subprocess.run(full, capture_output=True, timeout=120, check=False)  # noqa: S603
        if done.returncode != 0:
            raise click.ClickException(
                f"{Path(cmd[0]).name} failed: {done.stderr.decode(errors='replace')[-300:]}"
            )

    if as_root:
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", _free_port()
    run(_pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U", user, "--no-sync")
    # Durable settings (fsync on) as in production; loopback only.
    options = f"-h 127.0.0.1 -p {port} -k {root} -c shared_buffers=256MB"
    try:
        run(
            _pg_bin("pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-w",
            "-l",
            str(root / "log"),
            "start",
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise click.ClickException("PostgreSQL did not start") from None
                time.sleep(0.1)
        yield f"postgresql+psycopg://{user}@127.0.0.1:{port}/postgres"
    finally:
        with contextlib.suppress(click.ClickException):
            run(_pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def fresh_database(backend: str, server_url: str | None) -> Iterator[str]:
    """A new, migrated, empty database; dropped (or deleted) afterwards."""
    if backend == "sqlite":
        tmp = Path(tempfile.mkdtemp(prefix="passgate-bench-"))
        url = f"sqlite:///{tmp / 'bench.db'}"
        try:
            engine = create_engine(url)
            migrate.upgrade(engine)
            engine.dispose()
            yield url
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    assert server_url is not None
    name = "passgate_bench_" + secrets.token_hex(4)
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    url = sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        engine = create_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@contextlib.contextmanager
def servers(backends: tuple[str, ...], database_url: str | None) -> Iterator[dict[str, str | None]]:
    """backend -> server URL (None for SQLite); PostgreSQL started here unless given."""
    with contextlib.ExitStack() as stack:
        found: dict[str, str | None] = {}
        for backend in backends:
            if backend == "sqlite":
                found[backend] = None
            else:
                found[backend] = database_url or stack.enter_context(throwaway_postgres())
        yield found
