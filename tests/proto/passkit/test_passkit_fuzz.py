"""Whatever bytes arrive, the verifier answers with a VerifiedPass or a PkpassError."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from cryptography import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from passgate.proto.passkit import (
    PassSigner,
    PkpassError,
    VerifiedPass,
    build_pkpass,
    verify_pkpass,
)
from passgate.proto.passkit.archive import read_archive
from passgate.proto.passkit.cms import verify_detached_signature

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
Rezip = Callable[[dict[str, bytes]], bytes]


def _verify_or_refuse(data: bytes, root: x509.Certificate, now: datetime) -> None:
    try:
        result = verify_pkpass(data, trusted_roots=[root], now=now)
    except PkpassError:
        return
    assert isinstance(result, VerifiedPass)


def _mutate(data: bytes, position: int, value: int, mode: int) -> bytes:
    position %= max(len(data), 1)
    if mode == 0:  # overwrite one byte
        return data[:position] + bytes([value]) + data[position + 1 :]
    if mode == 1:  # truncate
        return data[:position]
    if mode == 2:  # insert one byte
        return data[:position] + bytes([value]) + data[position:]
    return data[:position] + data[position + 1 :]  # delete one byte


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_only_raise_pkpass_error(
    root: x509.Certificate, now: datetime, data: bytes
) -> None:
    _verify_or_refuse(data, root, now)


@FUZZ
@given(st.binary(max_size=512))
def test_random_zip_like_bytes(root: x509.Certificate, now: datetime, tail: bytes) -> None:
    _verify_or_refuse(b"PK\x03\x04" + tail, root, now)
    _verify_or_refuse(tail + b"PK\x05\x06" + bytes(18), root, now)


@FUZZ
@given(st.integers(min_value=0), st.integers(0, 255), st.integers(0, 3))
def test_mutated_archives(
    pkpass: bytes, root: x509.Certificate, now: datetime, position: int, value: int, mode: int
) -> None:
    _verify_or_refuse(_mutate(pkpass, position, value, mode), root, now)


@FUZZ
@given(
    st.sampled_from(["signature", "manifest.json", "pass.json"]),
    st.integers(min_value=0),
    st.integers(0, 255),
    st.integers(0, 3),
)
def test_mutated_members_rezipped(
    pkpass: bytes,
    root: x509.Certificate,
    now: datetime,
    rezip: Rezip,
    name: str,
    position: int,
    value: int,
    mode: int,
) -> None:
    # Re-zipping keeps the container valid so the mutation reaches the ASN.1 and JSON
    # parsers behind it.
    files = read_archive(pkpass)
    files[name] = _mutate(files[name], position, value, mode)
    _verify_or_refuse(rezip(files), root, now)


@FUZZ
@given(st.binary(max_size=1024))
def test_cms_parser_on_garbage(data: bytes) -> None:
    try:
        verify_detached_signature(data, b"{}")
    except PkpassError:
        return
    raise AssertionError("garbage verified as a signature")


@FUZZ
@given(st.binary(min_size=1, max_size=64))
def test_cms_parser_on_der_looking_garbage(body: bytes) -> None:
    for prefix in (b"\x30\x82\x00\x40", b"\x30\x80", b"\x30" + bytes([len(body)])):
        try:
            verify_detached_signature(prefix + body, b"{}")
        except PkpassError:
            continue
        raise AssertionError("garbage verified as a signature")


def test_deeply_nested_but_signed_json_is_refused(
    signer: PassSigner, root: x509.Certificate, now: datetime
) -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    files = {"pass.json": nested, "icon.png": b"icon"}
    pkpass = build_pkpass(files, signer, signing_time=now)
    with pytest.raises(PkpassError, match=r"pass\.json is not valid"):
        verify_pkpass(pkpass, trusted_roots=[root], now=now)
