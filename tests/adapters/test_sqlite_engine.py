"""The embedded database: durable commits, owner-only files, one writer at a time."""

from __future__ import annotations

import contextlib
import stat
import threading
from pathlib import Path

from passgate.adapters.db import migrate
from passgate.adapters.db.engine import create_engine, writer_turn
from passgate.adapters.db.repository import SqlUnitOfWorkFactory


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


def test_writers_of_one_process_take_turns_and_readers_do_not_wait(tmp_path: Path) -> None:
    """A write unit of work holds the process's writer turn from BEGIN to COMMIT: a second
    writer starts only after the first has committed (no SQLITE_BUSY, no busy-handler
    sleep), while a read goes ahead meanwhile."""
    engine = create_engine(f"sqlite:///{tmp_path / 'p.db'}")
    try:
        migrate.upgrade(engine)
        factory = SqlUnitOfWorkFactory(engine)
        order: list[str] = []
        first_in, release = threading.Event(), threading.Event()

        def first() -> None:
            with factory(None):
                order.append("first begins")
                first_in.set()
                release.wait(5)
                order.append("first commits")

        def second() -> None:
            with factory(None):
                order.append("second begins")

        a = threading.Thread(target=first)
        a.start()
        assert first_in.wait(5)
        b = threading.Thread(target=second)
        b.start()
        with factory(None, write=False):  # a reader is not held up by the writer
            order.append("read")
        turn = writer_turn(engine)
        assert isinstance(turn, type(threading.RLock()))
        assert not turn.acquire(blocking=False)  # the first writer holds it
        b.join(0.3)
        assert b.is_alive()  # queued on the turn, not failing with "database is locked"
        release.set()
        a.join(5)
        b.join(5)
        assert order == ["first begins", "read", "first commits", "second begins"]
        assert turn.acquire(blocking=False)  # given back after each commit
        turn.release()
    finally:
        engine.dispose()


def test_a_failed_write_gives_its_turn_back(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'f.db'}")
    try:
        migrate.upgrade(engine)
        factory = SqlUnitOfWorkFactory(engine)
        with contextlib.suppress(RuntimeError), factory(None):
            raise RuntimeError("the command failed")
        done = threading.Event()

        def later() -> None:
            with factory(None):
                done.set()

        worker = threading.Thread(target=later)
        worker.start()
        assert done.wait(5)
        worker.join(5)
        turn = writer_turn(engine)
        assert isinstance(turn, type(threading.RLock())) and turn.acquire(blocking=False)
        turn.release()
    finally:
        engine.dispose()
