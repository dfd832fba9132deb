"""The database change mark the reader hub polls instead of rebuilding its caches."""

from __future__ import annotations

import sqlalchemy as sa

from passgate.adapters.db.change_mark import change_mark
from passgate.adapters.db.engine import create_engine
from passgate.services.readers.change_gate import ChangeGate


def _write(url: str, value: str) -> None:
    # A separate engine: the commit of another process, which no commit hook here sees.
    other = create_engine(url)
    try:
        with other.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS mark_probe (v TEXT)")
            conn.execute(sa.text("INSERT INTO mark_probe (v) VALUES (:v)"), {"v": value})
    finally:
        other.dispose()


def test_a_commit_by_another_engine_moves_the_mark(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        before = change_mark(engine)
        assert before is not None
        for i in range(3):
            _write(database_url, f"v{i}")
            after = change_mark(engine)
            assert after != before, "a committed write must move the mark"
            before = after
    finally:
        engine.dispose()


def test_sqlite_mark_stands_still_while_only_reading(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/still.db"
    _write(url, "seed")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:  # opening the database creates its -wal file
            conn.exec_driver_sql("SELECT 1")
        first = change_mark(engine)
        for _ in range(3):
            with engine.connect() as conn:
                assert conn.exec_driver_sql("SELECT count(*) FROM mark_probe").scalar_one() == 1
            assert change_mark(engine) == first
    finally:
        engine.dispose()


def test_in_memory_sqlite_has_no_mark() -> None:
    engine = create_engine("sqlite://")
    try:
        assert change_mark(engine) is None
    finally:
        engine.dispose()


def test_gate_builds_on_a_move_and_once_more_when_it_settles() -> None:
    gate = ChangeGate()
    assert gate.should_build("a")  # first sight
    assert gate.should_build("a")  # settled: the rebuild sure to see every commit
    assert not gate.should_build("a")
    assert not gate.should_build("a")
    assert gate.should_build("b")
    assert gate.should_build("c")  # still moving
    assert gate.should_build("c")
    assert not gate.should_build("c")
    assert gate.should_build(None)  # unknown: always
    assert gate.should_build(None)
    assert gate.should_build("c")  # unknown reset the memory
