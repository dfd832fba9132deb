"""The agent's event sequence numbers: increasing, and never reused (the server keys its
idempotent ingest on them), also once the queue is empty and after a restart."""

from __future__ import annotations

from pathlib import Path

from passgate.reader.store import AgentStore


def _store(tmp_path: Path) -> AgentStore:
    return AgentStore(str(tmp_path / "agent.db"))


def test_sequences_count_up_from_one(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert [store.add_event({"kind": "access"}) for _ in range(3)] == [1, 2, 3]
    assert [e["sequence"] for e in store.pending_events()] == [1, 2, 3]
    store.close()


def test_an_emptied_queue_does_not_reuse_numbers_even_after_a_restart(tmp_path: Path) -> None:
    store = _store(tmp_path)
    for _ in range(3):
        store.add_event({"kind": "access"})
    store.delete_events([1, 2, 3])
    assert store.event_count() == 0
    assert store.add_event({"kind": "access"}) == 4
    store.delete_events([4])
    store.close()

    reopened = _store(tmp_path)
    assert reopened.add_event({"kind": "access"}) == 5
    reopened.close()


def test_deleting_older_events_keeps_the_newest_number_in_use(tmp_path: Path) -> None:
    store = _store(tmp_path)
    for _ in range(4):
        store.add_event({"kind": "access"})
    store.delete_events([1, 2])  # acknowledged out of a longer queue
    assert store.add_event({"kind": "access"}) == 5
    assert [e["sequence"] for e in store.pending_events()] == [3, 4, 5]
    store.close()


def test_a_floor_written_by_an_earlier_version_is_honoured(tmp_path: Path) -> None:
    # Earlier agents kept next_seq in kv up to date on every event.
    store = _store(tmp_path)
    store.put({"next_seq": 42})
    assert store.add_event({"kind": "access"}) == 42
    assert store.get("next_seq") == 42
    assert store.add_event({"kind": "access"}) == 43
    store.close()
