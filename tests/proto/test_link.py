"""The reader link's typed messages (proto/link.py): what each end may send, and the
error a peer's bad message gets (the first bad field, never another exception)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passgate.proto import link
from passgate.proto.snapshot import MAX_FRAME_BYTES, SnapshotError

AT = "2026-12-02T09:30:00+01:00"
TAP = {"kind": "access", "sequence": 7, "occurred_at": AT, "granted": True, "reason": "granted"}


def _decode(value: Any) -> link.Message | link.Signed:
    return link.decode(json.dumps(value))


@pytest.mark.parametrize(
    "message",
    [
        link.Challenge(nonce="n" * 32),
        link.Ack(sequences=[1, 2, 2**61]),
        link.Error(code="bad_message", field="items[0].reason"),
        link.AliroCertificate(group_identifier="00" * 16, group_public_key="04", certificate="30"),
        link.Auth(
            reader_id="rdr_1",
            signature="sig",
            version=12,
            status=link.ReaderStatus(model="reader_pro_2_1", firmware="2.1.4"),
            reader_nonce="r" * 24,
            digest="ab" * 32,
            shared_deltas=True,
        ),
        link.Events(
            items=[
                link.AccessEvent(
                    sequence=1,
                    occurred_at=datetime(2026, 12, 2, 8, 30, tzinfo=UTC),
                    granted=False,
                    reason="outside_schedule",
                    member_id="mem_1",
                    credential_id="pass_1",
                    key_id="k" * 16,
                    method="nfc",
                    flow="fast",
                ),
                link.TamperEvent(
                    sequence=2,
                    occurred_at=datetime(2026, 12, 2, 8, 31, tzinfo=UTC),
                    granted=False,
                    reason="tamper",
                ),
                link.RemoteUnlockEvent(
                    sequence=3,
                    occurred_at=datetime(2026, 12, 2, 8, 32, tzinfo=UTC),
                    granted=True,
                    reason="granted",
                    command_id="cmd_1",
                ),
            ]
        ),
        link.Resync(reason="digest"),
        link.Status(status=link.ReaderStatus(model="reader_pro_2_1")),
        link.AliroKey(public_key="04" + "ab" * 64),
        link.Ping(),
        link.Applied(version=41),
        link.UnlockResult(command_id="cmd_1", ok=False, reason="door_lockdown"),
    ],
    ids=lambda m: m.type,
)
def test_every_message_survives_its_own_encoding(message: link.Message) -> None:
    assert link.decode(link.encode(message)) == message


def test_a_frame_is_canonical_json_without_absent_fields() -> None:
    text = link.encode(link.Auth(reader_id="rdr_1", signature="s", version=0))
    assert text == (
        '{"reader_id":"rdr_1","shared_deltas":false,"signature":"s","status":{},'
        '"type":"auth","version":0}'
    )


def test_timestamps_come_back_in_utc_and_the_same_instant() -> None:
    msg = _decode({"type": "events", "items": [TAP]})
    assert isinstance(msg, link.Events)
    [item] = msg.items
    assert item.occurred_at == datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
    assert item.occurred_at.utcoffset() == timedelta(0)


def test_unknown_fields_are_ignored_so_either_end_can_add_one() -> None:
    msg = _decode({"type": "ping", "uptime_s": 12})
    assert msg == link.Ping()
    msg = _decode({"type": "events", "items": [{**TAP, "rssi": -40}]})
    assert isinstance(msg, link.Events) and msg.items[0].sequence == 7


@pytest.mark.parametrize("kind", sorted(link.SIGNED_TYPES))
def test_signed_frames_are_handed_over_whole_for_their_verifier(kind: str) -> None:
    frame = {"type": kind, "anything": [1, {"x": None}], "sig": "not checked here"}
    assert _decode(frame) == link.Signed(kind, frame)


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ([1], "type"),
        ({"kind": "ping"}, "type"),
        ({"type": 3}, "type"),
        ({"type": "nope"}, "type"),
        ({"type": "challenge"}, "nonce"),
        ({"type": "auth", "reader_id": "rdr_1", "signature": "s", "version": True}, "version"),
        ({"type": "auth", "reader_id": "rdr_1", "signature": "s", "version": 1.0}, "version"),
        ({"type": "auth", "reader_id": "rdr_1", "signature": "s", "version": -1}, "version"),
        ({"type": "auth", "reader_id": "", "signature": "s", "version": 1}, "reader_id"),
        (
            {"type": "auth", "reader_id": "r", "signature": "s", "version": 1, "reader_nonce": "x"},
            "reader_nonce",
        ),
        (
            {"type": "auth", "reader_id": "r", "signature": "s", "version": 1, "status": []},
            "status",
        ),
        ({"type": "status", "status": {"firmware": "x" * 41}}, "status.firmware"),
        ({"type": "status", "status": {"model": "a\u0000b"}}, "status.model"),
        ({"type": "ack", "sequences": [1, "2"]}, "sequences[1]"),
        ({"type": "ack", "sequences": [-1]}, "sequences[0]"),
        ({"type": "applied", "version": "7"}, "version"),
        ({"type": "resync", "reason": "\n"}, "reason"),
        ({"type": "events", "items": {}}, "items"),
        ({"type": "events", "items": [TAP] * (link.MAX_BATCH + 1)}, "items"),
        ({"type": "events", "items": [TAP, {**TAP, "sequence": True}]}, "items[1].sequence"),
        ({"type": "events", "items": [{**TAP, "sequence": 2**62}]}, "items[0].sequence"),
        ({"type": "events", "items": [{**TAP, "kind": "door_held"}]}, "items[0]"),
        ({"type": "events", "items": [{**TAP, "occurred_at": "2026-12-02T09:30:00"}]},
         "items[0].occurred_at"),
        ({"type": "events", "items": [{**TAP, "occurred_at": 1764664200}]}, "items[0].occurred_at"),
        ({"type": "events", "items": [{**TAP, "granted": 1}]}, "items[0].granted"),
        ({"type": "events", "items": [{**TAP, "reason": "x" * 41}]}, "items[0].reason"),
        ({"type": "events", "items": [{**TAP, "member_id": "m\u0000"}]}, "items[0].member_id"),
        ({"type": "events", "items": [{**TAP, "kind": "remote_unlock"}]}, "items[0].command_id"),
        ({"type": "unlock_result", "ok": True, "reason": "granted"}, "command_id"),
        ({"type": "unlock_result", "command_id": "x" * 41, "ok": True, "reason": "granted"},
         "command_id"),
        ({"type": "unlock_result", "command_id": "c", "ok": 1, "reason": "granted"}, "ok"),
        ({"type": "unlock_result", "command_id": "c", "ok": True, "reason": "opened"}, "reason"),
        ({"type": "unlock_result", "command_id": "c", "ok": True, "reason": "door_lockdown"},
         "reason"),
        ({"type": "unlock_result", "command_id": "c", "ok": False, "reason": "granted"}, "reason"),
    ],
)  # fmt: skip
def test_a_bad_message_names_its_first_bad_field(value: Any, field: str) -> None:
    with pytest.raises(SnapshotError) as bad:
        _decode(value)
    assert bad.value.field == field


def test_what_is_not_a_message_at_all() -> None:
    for text in (b"", b"{", b"\xff\xfe", "[" * 100_000, " " * (MAX_FRAME_BYTES + 1)):
        with pytest.raises(SnapshotError) as bad:
            link.decode(text)
        assert bad.value.field == "message"


def test_a_zone_other_than_utc_is_the_same_instant() -> None:
    eastern = datetime(2026, 12, 2, 3, 30, tzinfo=timezone(timedelta(hours=-5)))
    msg = _decode({"type": "events", "items": [{**TAP, "occurred_at": eastern.isoformat()}]})
    assert isinstance(msg, link.Events)
    assert msg.items[0].occurred_at == datetime(2026, 12, 2, 8, 30, tzinfo=UTC)


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_give_a_message_or_the_format_error(raw: bytes) -> None:
    try:
        link.decode(raw)
    except SnapshotError:
        return


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)
_field_names = st.sampled_from(
    ["nonce", "sequences", "code", "reader_id", "signature", "version", "status", "items",
     "reason", "public_key", "command_id", "ok", "digest", "reader_nonce", "shared_deltas"]
)  # fmt: skip
_item = st.dictionaries(
    st.sampled_from(
        ["kind", "sequence", "occurred_at", "granted", "reason", "member_id", "command_id"]
    ),
    st.sampled_from(["access", "tamper", "remote_unlock", AT, "granted"]) | _json,
)


@settings(max_examples=400, deadline=None)
@given(
    kind=st.sampled_from(
        ["challenge", "ack", "error", "aliro_certificate", "auth", "events", "resync", "status",
         "aliro_key", "ping", "applied", "unlock_result"]
    ),
    fields=st.dictionaries(_field_names, _json | st.lists(_item, max_size=3), max_size=6),
)  # fmt: skip
def test_any_object_of_a_known_type_gives_that_message_or_the_format_error(
    kind: str, fields: dict[str, Any]
) -> None:
    try:
        msg = _decode({**fields, "type": kind})
    except SnapshotError as exc:
        assert exc.field
        return
    assert msg.type == kind


# --- the cache content's rows ---------------------------------------------------------

KEY = {"public_key": "04" + "ab" * 64, "kind": "apple_pass", "status": "active",
       "member_id": "mem_1", "pass_id": "pass_1"}  # fmt: skip
GRANT = {"from": None, "until": "2027-01-01T00:00:00+00:00",
         "schedule": {"windows": [[0, 480, 1080]], "holidays": ["2026-12-25"]}}  # fmt: skip


def test_rows_the_server_builds_pass_as_they_are() -> None:
    assert link.check_row("credentials", "k1", KEY) == KEY
    member = {"active": True, "grants": [GRANT]}
    assert link.check_row("members", "mem_1", member) == member


@pytest.mark.parametrize(
    ("section", "row", "field"),
    [
        ("credentials", [], "credentials.k"),
        ("credentials", {**KEY, "public_key": "04a"}, "credentials.k.public_key"),
        ("credentials", {**KEY, "public_key": "04AB"}, "credentials.k.public_key"),
        ("credentials", {**KEY, "kind": "badge"}, "credentials.k.kind"),
        ("credentials", {**KEY, "member_id": ""}, "credentials.k.member_id"),
        ("credentials", {k: v for k, v in KEY.items() if k != "status"}, "credentials.k.status"),
        ("members", {"active": "yes", "grants": []}, "members.k.active"),
        ("members", {"active": True, "grants": [{**GRANT, "from": "2026-01-01T00:00:00"}]},
         "members.k.grants[0].from"),
        ("members", {"active": True, "grants": [{**GRANT, "until": 1767225600}]},
         "members.k.grants[0].until"),
        ("members", {"active": True, "grants": [{**GRANT, "schedule": {"windows": [[0, 1]],
         "holidays": []}}]}, "members.k.grants[0].schedule.windows[0]"),
        ("members", {"active": True, "grants": [{**GRANT, "schedule": {"windows": [],
         "holidays": ["25.12.2026"]}}]}, "members.k.grants[0].schedule.holidays[0]"),
    ],
)  # fmt: skip
def test_a_bad_row_names_its_field(section: str, row: Any, field: str) -> None:
    with pytest.raises(SnapshotError) as bad:
        link.check_row(section, "k", row)
    assert bad.value.field == field


@pytest.mark.parametrize(
    ("section", "value", "field"),
    [
        ("org", {"eligible": 1}, "org.eligible"),
        ("door", {"id": "d", "timezone": "UTC", "lockdown": False, "staleness_limit_s": -1,
                  "schedule": None}, "door.staleness_limit_s"),
        ("reader", {"id": "r", "model": "m", "tamper_protection": True, "tampered": False,
                    "tamper_seq": 0}, "reader.readiness"),
        ("reader", None, "reader"),
    ],
)  # fmt: skip
def test_a_bad_small_section_names_its_field(section: str, value: Any, field: str) -> None:
    with pytest.raises(SnapshotError) as bad:
        link.check_small(section, value)
    assert bad.value.field == field
