"""The signed reader-cache format: signatures, gaps, rollbacks, digests, garbage."""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from passgate.proto import link
from passgate.proto import snapshot as snap

KEY = ec.generate_private_key(ec.SECP256R1())
OTHER = ec.generate_private_key(ec.SECP256R1())
V1 = {"door": {"id": "door_1", "lockdown": False}, "credentials": {"a": {"s": "active"}}}
V2 = {"door": {"id": "door_1", "lockdown": True}, "credentials": {"b": {"s": "active"}}}


def _snapshot(
    version: int, content: dict[str, Any], key: ec.EllipticCurvePrivateKey = KEY
) -> dict[str, Any]:
    return snap.make_frame(
        key,
        kind="snapshot",
        reader_id="rdr_1",
        version=version,
        body=content,
        result_digest=snap.digest(content),
    )


def _delta(base: int, version: int, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    return snap.make_frame(
        KEY,
        kind="delta",
        reader_id="rdr_1",
        version=version,
        base_version=base,
        body=snap.diff(old, new),
        result_digest=snap.digest(new),
    )


def _state() -> snap.CacheState:
    return snap.CacheState("rdr_1", KEY.public_key())


def test_snapshot_then_delta_reaches_the_new_content() -> None:
    state = _state()
    assert isinstance(state.receive(_snapshot(10, V1)), snap.Accepted)
    accepted = state.receive(_delta(10, 15, V1, V2))
    assert isinstance(accepted, snap.Accepted) and accepted.content == V2 and state.version == 15


def test_bad_signature_gap_rollback_wrong_reader_and_digest_are_rejected() -> None:
    state = _state()
    assert state.receive(_snapshot(10, V1, OTHER)) == snap.Rejected("bad_signature")
    state.receive(_snapshot(10, V1))
    assert state.receive(_delta(9, 12, V1, V2)) == snap.Rejected("gap")
    assert state.receive(_snapshot(10, V2)) == snap.Rejected("rollback")
    assert state.receive(_snapshot(3, V2)) == snap.Rejected("rollback")
    tampered = _delta(10, 12, V1, V2)
    tampered["body"]["replace"] = {"door": {"id": "door_1", "lockdown": False}}
    assert state.receive(tampered) == snap.Rejected("bad_signature")
    wrong = snap.make_frame(
        KEY, kind="snapshot", reader_id="rdr_2", version=20, body=V2, result_digest=snap.digest(V2)
    )
    assert state.receive(wrong) == snap.Rejected("wrong_reader")
    lying = snap.make_frame(
        KEY, kind="snapshot", reader_id="rdr_1", version=20, body=V2, result_digest="00" * 32
    )
    assert state.receive(lying) == snap.Rejected("digest")
    assert state.version == 10 and state.content == V1  # nothing changed on rejection
    # Re-sync: a fresh snapshot at a higher version is accepted.
    assert isinstance(state.receive(_snapshot(30, V2)), snap.Accepted)


def _beat(version: int, *, nonce: str = "link-1", seq: int = 1, at: int = 1000) -> dict[str, Any]:
    beat: dict[str, Any] = json.loads(
        snap.heartbeat_text(
            KEY, reader_id="rdr_1", version=version, link_nonce=nonce, seq=seq, at_ms=at
        )
    )
    return beat


def _first(nonce: str) -> dict[str, Any]:
    """The first snapshot of a connection whose reader nonce is ``nonce``."""
    return snap.make_frame(
        KEY,
        kind="snapshot",
        reader_id="rdr_1",
        version=10,
        body=V1,
        result_digest=snap.digest(V1),
        link_nonce=nonce,
    )


def test_heartbeat_text_is_the_canonical_signed_heartbeat() -> None:
    # A nonce is the reader's own string: quotes and a look-alike of the keys stay inside it.
    for nonce in ("link-1", 'x","type":"heartbeat","version":1,"sig":"', "\u00e9\\"):
        text = snap.heartbeat_text(
            KEY, reader_id="rdr_1", version=10, link_nonce=nonce, seq=3, at_ms=1000
        )
        beat = json.loads(text)
        assert text.encode() == snap.canonical(beat)
        assert {k: v for k, v in beat.items() if k != "sig"} == {
            "type": "heartbeat",
            "reader_id": "rdr_1",
            "version": 10,
            "nonce": nonce,
            "seq": 3,
            "at": 1000,
        }
        state = snap.CacheState("rdr_1", KEY.public_key(), link_nonce=nonce)
        assert isinstance(state.receive(_first(nonce)), snap.Accepted)
        assert state.confirms(beat)


def test_heartbeat_confirms_only_the_current_version_of_this_connection_once() -> None:
    state = snap.CacheState("rdr_1", KEY.public_key(), link_nonce="link-1")
    assert isinstance(state.receive(_first("link-1")), snap.Accepted)
    assert not state.confirms(_beat(9))  # another version
    assert state.confirms(_beat(10, seq=1, at=1000))
    assert not state.confirms(_beat(10, seq=1, at=1000))  # the same beat replayed
    assert not state.confirms(_beat(10, seq=2, at=999))  # server time went back
    assert not state.confirms(_beat(10, seq=3, nonce="link-0"))  # recorded on another link
    unsigned = {k: v for k, v in _beat(10, seq=4, at=2000).items() if k != "sig"}
    assert not state.confirms({**unsigned, "sig": _beat(10, seq=5, at=2000)["sig"]})
    assert state.confirms(_beat(10, seq=4, at=2000))
    # A reader that does not know its connection nonce takes no heartbeat at all.
    blind = _state()
    blind.receive(_snapshot(10, V1))
    assert not blind.confirms(_beat(10))


def test_frames_signed_for_another_connection_are_refused() -> None:
    state = snap.CacheState("rdr_1", KEY.public_key(), link_nonce="link-2")
    other = snap.make_frame(
        KEY,
        kind="snapshot",
        reader_id="rdr_1",
        version=20,
        body=V1,
        result_digest=snap.digest(V1),
        link_nonce="link-1",
    )
    assert state.receive(other) == snap.Rejected("replayed")
    assert state.receive(_snapshot(20, V1)) == snap.Rejected("replayed")  # none at all
    ours = {**other, "nonce": "link-2"}
    assert state.receive(ours) == snap.Rejected("bad_signature")  # the nonce is signed


def test_diff_apply_round_trip() -> None:
    assert snap.apply(V1, snap.diff(V1, V2)) == V2
    assert snap.apply(V2, snap.diff(V2, {})) == {}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(value=json_values)
def test_garbage_frames_never_crash_the_reader(value: Any) -> None:
    state = _state()
    state.receive(_snapshot(10, V1))
    assert isinstance(state.receive(value), snap.Rejected)
    frame = _delta(10, 11, V1, V2)
    frame["body"] = value
    assert isinstance(state.receive(frame), snap.Rejected)
    assert state.version == 10


SECTIONS = st.dictionaries(
    st.sampled_from(["credentials", "door", "members", "org", "reader"]),
    st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=4)
    | st.integers(),
    min_size=1,
)


@settings(max_examples=40, deadline=None)
@given(SECTIONS, SECTIONS)
def test_section_sums_derive_the_digest_of_a_changed_section(
    old: dict[str, Any], new: dict[str, Any]
) -> None:
    sums = snap.SectionSums()
    assert sums.digest(old) == snap.digest(old)
    for name, value in new.items():
        before = old.get(name)
        if isinstance(before, dict) and isinstance(value, dict):
            assert sums.derive(name, before, value) == snap.section_hash(name, value)
    assert sums.digest(new) == snap.digest(new)


@settings(max_examples=60, deadline=None)
@given(SECTIONS, SECTIONS)
def test_a_delta_applied_in_place_reaches_the_new_content_and_digest(
    old: dict[str, Any], new: dict[str, Any]
) -> None:
    state = _state()
    assert isinstance(state.receive(_snapshot(10, old)), snap.Accepted)
    held = state.content
    accepted = state.receive(_delta(10, 11, old, new))
    assert isinstance(accepted, snap.Accepted)
    assert accepted.content == new and accepted.digest == snap.digest(new)
    assert accepted.content is held  # rows changed in place, not a rebuilt document
    assert accepted.changes == snap.diff(old, new)


BIG = {
    "door": {"id": "door_1", "lockdown": False},
    "org": {"eligible": True},
    "credentials": {f"k{i:05}": {"s": "active", "n": i} for i in range(2500)},
    "members": {f"m{i:04}": {"active": True} for i in range(700)},
}


def _parts(content: dict[str, Any], nonce: str = "n" * 20) -> list[dict[str, Any]]:
    return snap.snapshot_frames(
        KEY,
        reader_id="rdr_1",
        version=50,
        content=content,
        result_digest=snap.digest(content),
        link_nonce=nonce,
        rows_per_part=1000,
    )


def test_a_snapshot_in_parts_is_taken_only_whole_and_each_frame_stays_small() -> None:
    frames = _parts(BIG)
    assert len(frames) == 4 and frames[0]["parts"] == 4
    assert max(len(link.encode(f)) for f in frames) < 200_000
    state = snap.CacheState("rdr_1", KEY.public_key(), link_nonce="n" * 20)
    for index, frame in enumerate(frames[:-1]):
        verdict = state.receive(frame)
        assert verdict == snap.Pending(50, index + 1, 4)
        assert state.version == 0 and state.content is None  # nothing taken halfway
    taken = state.receive(frames[-1])
    assert isinstance(taken, snap.Accepted) and taken.content == BIG and state.version == 50


def test_parts_out_of_order_forged_or_of_another_connection_abandon_the_snapshot() -> None:
    frames = _parts(BIG)
    state = snap.CacheState("rdr_1", KEY.public_key(), link_nonce="n" * 20)
    state.receive(frames[0])
    assert state.receive(frames[2]) == snap.Rejected("gap")  # skipped a part
    assert state.receive(frames[1]) == snap.Rejected("gap")  # the assembly is gone
    state.receive(frames[0])
    forged = {**frames[1], "body": {"credentials": {"evil": {"s": "active"}}}}
    assert state.receive(forged) == snap.Rejected("bad_signature")
    state.receive(frames[0])
    other = _parts(BIG, nonce="o" * 20)
    assert state.receive(other[1]) == snap.Rejected("replayed")
    # A part whose rows were dropped in transit leaves the digest short.
    lying = snap.snapshot_frames(
        KEY,
        reader_id="rdr_1",
        version=50,
        content={**BIG, "credentials": {}},
        result_digest=snap.digest(BIG),
        link_nonce="n" * 20,
        rows_per_part=1000,
    )
    for frame in lying[:-1]:
        state.receive(frame)
    assert state.receive(lying[-1]) == snap.Rejected("digest")
    assert state.version == 0


def test_a_validator_refuses_unusable_content_without_changing_the_state() -> None:
    def no_lockdown(content: Any, body: dict[str, Any] | None) -> None:
        door = body["set"].get("door", {}) if body is not None else content.get("door", {})
        if door.get("lockdown"):
            raise snap.SnapshotError("lockdown refused", field="door")

    state = snap.CacheState("rdr_1", KEY.public_key(), validate=no_lockdown)
    assert isinstance(state.receive(_snapshot(10, V1)), snap.Accepted)
    assert state.receive(_delta(10, 11, V1, V2)) == snap.Rejected("unusable")
    assert state.version == 10 and state.content == V1


def test_memoized_diff_and_same_content_agree_with_the_plain_ones() -> None:
    shared_old, shared_new = {"a": {"s": 1}, "b": {"s": 1}}, {"a": {"s": 2}, "c": {"s": 1}}
    memo: snap.SectionMemo = {}
    old = {"credentials": shared_old, "reader": {"id": "r1"}}
    new: dict[str, dict[str, Any]] = {"credentials": shared_new, "reader": {"id": "r1"}}
    first, second = snap.diff(old, new, memo), snap.diff(old, new, memo)
    assert first == second == snap.diff(dict(old), {k: dict(v) for k, v in new.items()})
    assert snap.apply(old, first) == new
    assert snap.same_content(new, {"credentials": shared_new, "reader": {"id": "r1"}})
    assert not snap.same_content(new, {"credentials": shared_old, "reader": {"id": "r1"}})
    assert not snap.same_content(None, new)
