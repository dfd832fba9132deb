from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from asn1crypto import core  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from passgate.proto.passkit import der


def test_known_vectors() -> None:
    assert der.oid("1.2.840.113549.1.7.2").hex() == "06092a864886f70d010702"
    assert der.oid("2.16.840.1.101.3.4.2.1").hex() == "0609608648016503040201"
    assert der.integer(0).hex() == "020100"
    assert der.integer(127).hex() == "02017f"
    assert der.integer(128).hex() == "02020080"
    assert der.octet_string(b"\x01" * 200)[:3].hex() == "0481c8"
    assert der.tlv(0x04, b"\x00" * 300)[:4].hex() == "0482012c"
    assert der.set_of([b"\x02\x01\x02", b"\x02\x01\x01"]).hex() == "3106020101020102"


def test_times() -> None:
    moment = datetime(2026, 11, 27, 6, 5, 4, tzinfo=timezone(timedelta(hours=1)))
    assert der.time(moment) == b"\x17\x0d261127050504Z"
    assert der.time(datetime(2050, 1, 1, tzinfo=UTC)) == b"\x18\x0f20500101000000Z"


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(0, 2**40), min_size=1, max_size=8), st.integers(0, 2), st.integers(0, 39)
)
def test_oid_matches_asn1crypto(tail: list[int], first: int, second: int) -> None:
    dotted = ".".join(str(arc) for arc in [first, second, *tail])
    assert der.oid(dotted) == core.ObjectIdentifier(dotted).dump()


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**2100), st.binary(max_size=70_000))
def test_integer_and_octets_match_asn1crypto(value: int, data: bytes) -> None:
    assert der.integer(value) == core.Integer(value).dump()
    encoded = der.octet_string(data)
    assert encoded == core.OctetString(data).dump()
    assert der.content_of(encoded) == data
    assert der.elements(encoded + der.integer(value)) == [encoded, der.integer(value)]


def test_negative_integers_are_not_needed() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        der.integer(-1)
