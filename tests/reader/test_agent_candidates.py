"""The agent's FAST candidates: most recently used first, walked without a copy per tap."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from passgate.domain.passes import key_id_of
from passgate.proto.aliro import KnownEndpoint, crypto
from passgate.reader.agent import ReaderAgent
from passgate.reader.store import AgentStore


def _key() -> bytes:
    return crypto.public_bytes(ec.generate_private_key(ec.SECP256R1()))


def _agent(tmp_path: Path, keys: list[bytes]) -> ReaderAgent:
    store = AgentStore(str(tmp_path / "agent.db"))
    for public in keys:  # as STANDARD taps leave them, oldest first
        store.add_event({"kind": "seed"}, (key_id_of(public.hex()), public, os.urandom(32)))
    return ReaderAgent(store)


def test_candidates_come_most_recent_first(tmp_path: Path) -> None:
    keys = [_key() for _ in range(4)]
    agent = _agent(tmp_path, keys)
    try:
        assert [e.public_key for e in agent._fast_candidates()] == keys[::-1]
    finally:
        agent.store.close()


def test_a_key_learned_during_the_walk_never_breaks_it(tmp_path: Path) -> None:
    keys = [_key() for _ in range(4)]
    agent = _agent(tmp_path, keys)
    try:
        walk = agent._fast_candidates()
        first = next(walk)
        # Another tap (the BLE thread) learns a key while this one is still trying.
        late = _key()
        agent._persistent[key_id_of(late.hex())] = KnownEndpoint(late, os.urandom(32))
        rest = [e.public_key for e in walk]
        assert first.public_key == keys[-1]
        assert set(keys) | {late} == {first.public_key, *rest}
        # Cleared by a tamper during the walk: it ends, nothing is raised.
        walk = agent._fast_candidates()
        next(walk)
        agent._persistent.clear()
        assert list(walk) == []
    finally:
        agent.store.close()
