"""Shared deltas: one signature serves every reader in the same state, and no other.

A statement names the base version, the digest shares of the sections whose rows the
body changes, the new version and the body's hash. Readers holding exactly those rows
at that version take it (whatever their own small sections); any other cache refuses.
"""

from __future__ import annotations

import copy
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from passgate.proto import link
from passgate.proto import snapshot as snap

KEY = ec.generate_private_key(ec.SECP256R1())
CREDS = {
    "k1": {"status": "active", "member_id": "m1"},
    "k2": {"status": "active", "member_id": "m2"},
}
BODY: dict[str, Any] = {
    "set": {"credentials": {"k1": {"status": "suspended", "member_id": "m1"}}},
    "unset": {},
    "replace": {},
    "drop": [],
}


def _content(reader: str, creds: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"reader": {"id": reader}, "credentials": copy.deepcopy(creds or CREDS)}


def _state(reader: str, content: dict[str, Any], version: int = 10) -> snap.CacheState:
    return snap.CacheState(
        reader, KEY.public_key(), version=version, content=content, link_nonce="n" * 20
    )


def _signed(body: dict[str, Any] = BODY, base_version: int = 10) -> tuple[dict[str, Any], str]:
    statement = snap.shared_statement(
        org_id="org_1",
        base_version=base_version,
        version=20,
        base={"credentials": snap.section_hash("credentials", CREDS)},
        body=body,
    )
    return statement, snap.sign_statement(KEY, statement)


def _frame(reader: str, statement: dict[str, Any], sig: str, body: Any = BODY) -> dict[str, Any]:
    return snap.shared_delta(statement, sig, reader_id=reader, body=body, link_nonce="x" * 20)


def test_one_signature_serves_every_reader_holding_the_same_rows() -> None:
    statement, sig = _signed()
    for reader in ("rdr_a", "rdr_b"):
        state = _state(reader, _content(reader))
        arrived = link.decode(link.encode(_frame(reader, statement, sig)))
        assert isinstance(arrived, link.Signed)
        verdict = state.receive(arrived.frame)
        assert isinstance(verdict, snap.Accepted), verdict
        assert state.version == 20
        assert state.content is not None
        assert state.content["credentials"]["k1"]["status"] == "suspended"
        assert state.content["reader"] == {"id": reader}  # its own sections untouched
        assert verdict.digest == snap.digest(state.content)
        # The same frame again is a rollback.
        assert state.receive(_frame(reader, statement, sig)) == snap.Rejected("rollback")


def test_a_cache_in_another_state_refuses_it() -> None:
    statement, sig = _signed()
    other = {**CREDS, "k3": {"status": "active", "member_id": "m3"}}
    assert _state("r", _content("r", other)).receive(_frame("r", statement, sig)) == snap.Rejected(
        "gap"
    )
    assert _state("r", _content("r"), version=11).receive(
        _frame("r", statement, sig)
    ) == snap.Rejected("gap")
    assert _state("r", _content("r"), version=25).receive(
        _frame("r", statement, sig)
    ) == snap.Rejected("rollback")


def test_a_changed_body_statement_or_borrowed_signature_is_refused() -> None:
    statement, sig = _signed()
    forged = copy.deepcopy(BODY)
    forged["set"]["credentials"]["k1"]["status"] = "active"
    forged["set"]["credentials"]["k9"] = {"status": "active", "member_id": "m9"}
    state = _state("r", _content("r"))
    assert state.receive(_frame("r", statement, sig, forged)) == snap.Rejected("bad_signature")
    assert state.receive(_frame("r", {**statement, "version": 21}, sig)) == snap.Rejected(
        "bad_signature"
    )
    unlike = _frame("r", statement, sig)
    unlike["version"] = 21  # the frame says another version than its statement
    assert state.receive(unlike) == snap.Rejected("malformed")
    # A connection-bound frame's signature does not sign a statement (another context).
    frame = snap.make_frame(
        KEY, kind="delta", reader_id="r", version=20, base_version=10, body=BODY,
        result_digest="0" * 64, link_nonce="n" * 20,
    )  # fmt: skip
    assert state.receive(_frame("r", statement, frame["sig"])) == snap.Rejected("bad_signature")
    assert state.version == 10 and state.content == _content("r")


def test_rows_changed_in_a_section_the_statement_does_not_name_are_refused() -> None:
    body = copy.deepcopy(BODY)
    body["set"]["members"] = {"m1": {"active": False, "grants": []}}
    statement, sig = _signed(body)
    content = {**_content("r"), "members": {"m1": {"active": True, "grants": []}}}
    assert _state("r", content).receive(_frame("r", statement, sig, body)) == snap.Rejected(
        "malformed"
    )


def test_the_text_encoded_once_is_each_readers_canonical_frame() -> None:
    """The hub encodes a statement's frame once and puts in each reader's routing fields:
    the text must be byte for byte the canonical JSON of that reader's frame, and the
    reader must take it."""
    statement, sig = _signed()
    texts = snap.SharedDeltaText(statement, sig, BODY)
    for reader, nonce in (("rdr_a", "x" * 20), ('rdr_"q\\ü', "é\n" * 5), ("rdr_b", None)):
        frame = snap.shared_delta(statement, sig, reader_id=reader, body=BODY, link_nonce=nonce)
        text = texts.for_reader(reader, nonce)
        assert text == snap.canonical(frame).decode()
        assert link.encode(frame) == text
    state = _state("rdr_a", _content("rdr_a"))
    state.link_nonce = "x" * 20
    arrived = link.decode(texts.for_reader("rdr_a", "x" * 20))
    assert isinstance(arrived, link.Signed)
    assert isinstance(state.receive(arrived.frame), snap.Accepted)
