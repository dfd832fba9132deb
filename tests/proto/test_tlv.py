from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passgate.proto.tlv import (
    Tlv,
    TlvError,
    decode_all,
    decode_one,
    encode_length,
    encode_many,
    encode_tlv,
    is_constructed,
    unique_map,
)

H = bytes.fromhex


@pytest.mark.parametrize(
    ("length", "encoded"),
    [
        (0, "00"),
        (0x7F, "7f"),
        (0x80, "8180"),
        (0xFF, "81ff"),
        (0x100, "820100"),
        (0xFFFF, "82ffff"),
        (0x10000, "83010000"),
        (0xFFFFFF, "83ffffff"),
    ],
)
def test_length_forms(length: int, encoded: str) -> None:
    assert encode_length(length) == H(encoded)


def test_length_limits() -> None:
    with pytest.raises(TlvError):
        encode_length(0x1000000)
    with pytest.raises(TlvError):
        encode_length(-1)


def test_multi_byte_tag_round_trip() -> None:
    raw = encode_tlv(0x7F66, H("02020000"))
    assert raw == H("7f660402020000")
    item, end = decode_one(raw)
    assert (item.tag, item.value, end) == (0x7F66, H("02020000"), 7)
    assert item.constructed
    assert item.children() == (Tlv(0x02, H("0000")),)


def test_three_byte_tag_and_long_value() -> None:
    value = bytes(range(256)) * 2
    raw = encode_tlv(0x5F8101, value)
    assert raw[:6] == H("5f8101820200")
    assert decode_all(raw) == [Tlv(0x5F8101, value)]


def test_recursive_decoding() -> None:
    fci = H("6f1e8409a000000909acce5501a511800200005c04010000097f660402020000")
    (top,) = decode_all(fci, recursive=True)
    assert top.nested is not None
    df, prop = top.nested
    assert (df.tag, df.value) == (0x84, H("a000000909acce5501"))
    assert prop.nested is not None
    assert [t.tag for t in prop.nested] == [0x80, 0x5C, 0x7F66]
    assert prop.nested[2].nested == (Tlv(0x02, H("0000")),)
    assert top.encode() == fci


def test_primitive_has_no_children() -> None:
    with pytest.raises(TlvError):
        Tlv(0x5A, b"x").children()


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "5a",
        "5a02aa",
        "5a80",
        "5a84000000010000",
        "5a8101",
        "1f",
        "1f81",
        "1f818181",
        "00",
        "ff0100",
        "5a01aa5b",
    ],
)
def test_malformed_inputs(raw: str) -> None:
    with pytest.raises(TlvError):
        if raw:
            decode_all(H(raw))
        else:
            decode_one(b"")


@pytest.mark.parametrize("tag", [0, -1, 0x1F, 0x5F01FF, 0x01020304, 0x5F80, 0x5A5A])
def test_bad_tags_are_refused_on_encode(tag: int) -> None:
    with pytest.raises(TlvError):
        encode_tlv(tag, b"")


def test_non_minimal_length_is_accepted() -> None:
    assert decode_all(H("5a8101aa")) == [Tlv(0x5A, H("aa"))]


def test_unique_map() -> None:
    assert unique_map(decode_all(H("410101420100"))) == {0x41: b"\x01", 0x42: b"\x00"}
    with pytest.raises(TlvError):
        unique_map(decode_all(H("410101410100")))


def test_is_constructed() -> None:
    assert is_constructed(0x6F) and is_constructed(0xA5) and is_constructed(0x7F66)
    assert not is_constructed(0x5A) and not is_constructed(0x9E)


tags = st.sampled_from([0x41, 0x5A, 0x9E, 0x5F20, 0x7F66, 0x6F, 0x1F8101])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(tags, st.binary(max_size=300)), max_size=5))
def test_round_trip(items: list[tuple[int, bytes]]) -> None:
    raw = encode_many(items)
    assert [(t.tag, t.value) for t in decode_all(raw)] == items


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.booleans())
def test_arbitrary_bytes_decode_or_tlv_error(raw: bytes, recursive: bool) -> None:
    try:
        items = decode_all(raw, recursive=recursive)
    except TlvError:
        return
    # Re-encoding uses the shortest forms, so it can only shrink; values keep their order.
    again = encode_many((i.tag, i.value) for i in items)
    assert len(again) <= len(raw)
    pos = 0
    for item in items:
        pos = raw.index(item.value, pos) + len(item.value)
