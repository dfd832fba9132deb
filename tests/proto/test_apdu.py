from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passgate.proto.apdu import SW_OK, ApduError, CommandApdu, CommandKind, ResponseApdu

H = bytes.fromhex


@pytest.mark.parametrize(
    ("apdu", "encoded"),
    [
        (CommandApdu(0x80, 0x3C, 0, 0), "803c0000"),  # case 1
        (CommandApdu(0x00, 0xC0, 0, 0, le=16), "00c0000010"),  # case 2S
        (CommandApdu(0x00, 0xC0, 0, 0, le=256), "00c0000000"),  # Le 256 -> 00
        (CommandApdu(0x80, 0x80, 0, 0, H("410101")), "8080000003410101"),  # case 3S
        (
            CommandApdu(0x00, 0xA4, 4, 0, H("A000000909ACCE5501"), 256),
            "00a4040009a000000909acce550100",
        ),  # case 4S: the SELECT of the write-up
        (CommandApdu(0x00, 0xC0, 0, 0, le=257), "00c00000000101"),  # case 2E
        (CommandApdu(0x00, 0xC0, 0, 0, le=65536), "00c00000000000"),  # Le 65536 -> 0000
        (CommandApdu(0x80, 0xC9, 0, 0, bytes(256)), "80c9000000" + "0100" + "00" * 256),
        (
            CommandApdu(0x80, 0xC9, 0, 0, bytes(300), 1000),
            "80c9000000" + "012c" + "00" * 300 + "03e8",
        ),  # case 4E
    ],
)
def test_command_encode_parse(apdu: CommandApdu, encoded: str) -> None:
    assert apdu.encode() == H(encoded)
    assert CommandApdu.parse(H(encoded)) == apdu


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "80",
        "803c00",
        "8080000003aabb",
        "8080000002aabbccdd",
        "808000000000",
        "80800000000002aa",
        "80800000000001aabbccdd",
    ],
)
def test_command_malformed(raw: str) -> None:
    with pytest.raises(ApduError):
        CommandApdu.parse(H(raw))


@pytest.mark.parametrize(
    "kwargs",
    [{"cla": 256}, {"ins": -1}, {"data": bytes(65536)}, {"le": 0}, {"le": 65537}],
)
def test_command_field_validation(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {"cla": 0x80, "ins": 0x80, "p1": 0, "p2": 0, **kwargs}
    with pytest.raises(ApduError):
        CommandApdu(**fields)  # type: ignore[arg-type]


def test_response() -> None:
    rsp = ResponseApdu.parse(H("aabb9000"))
    assert (rsp.data, rsp.sw, rsp.ok) == (H("aabb"), SW_OK, True)
    assert rsp.encode() == H("aabb9000")
    assert ResponseApdu.status(0x6A82).encode() == H("6a82")
    assert not ResponseApdu.parse(H("6982")).ok
    with pytest.raises(ApduError):
        ResponseApdu.parse(H("90"))
    with pytest.raises(ApduError):
        ResponseApdu(b"", 0x100, 0)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_command_bytes_parse_or_apdu_error(raw: bytes) -> None:
    try:
        apdu = CommandApdu.parse(raw)
    except ApduError:
        return
    assert CommandApdu.parse(apdu.encode()) == apdu


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 255),
    st.integers(0, 255),
    st.binary(max_size=400),
    st.one_of(st.none(), st.integers(1, 65536)),
)
def test_command_round_trip(cla: int, ins: int, data: bytes, le: int | None) -> None:
    apdu = CommandApdu(cla, ins, 1, 2, data, le)
    assert CommandApdu.parse(apdu.encode()) == apdu


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 255),
    st.integers(0, 255),
    st.one_of(st.binary(max_size=300), st.integers(250, 70_000).map(bytes)),
    st.one_of(st.none(), st.integers(1, 256)),
)
def test_a_command_kind_makes_what_the_constructor_makes(
    cla: int, ins: int, data: bytes, le: int | None
) -> None:
    kind = CommandKind(cla, ins, le)
    if len(data) > 65535:
        with pytest.raises(ApduError, match="65535"):
            kind.make(data)
        return
    made, built = kind.make(data), CommandApdu(cla, ins, 0, 0, data, le)
    assert made == built and made.wire == built.encode()
    assert CommandApdu.parse(made.wire) == built


def test_a_command_kind_checks_its_fields_once() -> None:
    with pytest.raises(ApduError, match="one byte"):
        CommandKind(0x100, 0x80, None)
    with pytest.raises(ApduError, match="short form"):
        CommandKind(0x80, 0x80, 257)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=50))
def test_arbitrary_response_bytes(raw: bytes) -> None:
    try:
        rsp = ResponseApdu.parse(raw)
    except ApduError:
        assert len(raw) < 2
        return
    assert rsp.encode() == raw
