"""APNs sans-IO: request building, ES256 provider tokens, response classification."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from passgate.domain.errors import ValidationError
from passgate.proto.apns import (
    ProviderClaims,
    ProviderTokenCache,
    ProviderTokenError,
    PushOutcome,
    build_push,
    classify_response,
    make_provider_token,
    verify_provider_token,
)

TOKEN = "0123456789abcdef" * 4
TOPIC = "pass.com.example.door"
# A fixed key so provider tokens have known answers (signatures are RFC 6979).
KEY = ec.derive_private_key(
    0x1D2C3B4A59687766554433221100FFEEDDCCBBAA99887766554433221100, ec.SECP256R1()
)
NOW = 1_800_000_000
# Pinned output of make_provider_token for KEY at NOW: a regression vector (the header and
# claims segments are also decoded and checked independently below).
KNOWN_TOKEN = (
    "eyJhbGciOiJFUzI1NiIsImtpZCI6IktFWTEyMzQ1NjcifQ"
    ".eyJpc3MiOiJURUFNMTIzNDU2IiwiaWF0IjoxODAwMDAwMDAwfQ"
    ".9T9XyR662rj_7-wdVP5yH_B_3HHzFjsgFEhoYxKqf6CYFKpyfLTsCdBKPVTTn5_J2OmKMpwhf84mtxJGfQAyyg"
)


def b64url_json(segment: str) -> object:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def other_key() -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(424242, ec.SECP256R1())


# -- build_push ----------------------------------------------------------------------


def test_build_push_for_a_wallet_pass_update() -> None:
    request = build_push(TOKEN.upper(), topic=TOPIC, expiration=NOW + 3600)
    assert request.path == f"/3/device/{TOKEN}"
    assert request.body == b"{}"
    assert request.headers == {
        "apns-topic": TOPIC,
        "apns-push-type": "background",
        "apns-priority": "5",
        "apns-expiration": str(NOW + 3600),
    }


def test_build_push_without_expiration_has_no_header() -> None:
    request = build_push(TOKEN, topic=TOPIC, priority=10, push_type="alert")
    assert "apns-expiration" not in request.headers
    assert request.headers["apns-priority"] == "10"


@pytest.mark.parametrize(
    "token", ["", "ab" * 31 + "a", "zz" * 32, "ab" * 101, f"{TOKEN}/../x", "ab" * 32 + "\n"]
)
def test_build_push_refuses_malformed_tokens(token: str) -> None:
    with pytest.raises(ValidationError) as info:
        build_push(token, topic=TOPIC)
    assert info.value.field == "push_token"
    assert token.strip() == "" or token not in info.value.message


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"topic": ""}, "topic"),
        ({"topic": "pass.com.example\r\nx-evil: 1"}, "topic"),
        ({"topic": TOPIC, "priority": 7}, "priority"),
        ({"topic": TOPIC, "priority": 10}, "priority"),
        ({"topic": TOPIC, "push_type": "banana"}, "push_type"),
        ({"topic": TOPIC, "expiration": -1}, "expiration"),
    ],
)
def test_build_push_refuses_bad_fields(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        build_push(TOKEN, **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


# -- provider tokens -----------------------------------------------------------------


def test_provider_token_known_answer() -> None:
    token = make_provider_token(
        team_id="TEAM123456", key_id="KEY1234567", private_key=KEY, issued_at=NOW
    )
    header, claims, signature = token.split(".")
    assert b64url_json(header) == {"alg": "ES256", "kid": "KEY1234567"}
    assert b64url_json(claims) == {"iss": "TEAM123456", "iat": NOW}
    assert "=" not in token
    assert token == make_provider_token(
        team_id="TEAM123456", key_id="KEY1234567", private_key=KEY, issued_at=NOW
    )
    assert token == KNOWN_TOKEN
    # Independently check the raw r||s signature with cryptography's DER verifier.
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    KEY.public_key().verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))


def test_provider_token_round_trip() -> None:
    token = make_provider_token(
        team_id="TEAM123456", key_id="KEY1234567", private_key=KEY, issued_at=NOW
    )
    claims = verify_provider_token(token, KEY.public_key(), NOW + 10)
    assert claims == ProviderClaims(team_id="TEAM123456", key_id="KEY1234567", issued_at=NOW)


def test_provider_token_wrong_key_fails() -> None:
    token = make_provider_token(team_id="T", key_id="K", private_key=KEY, issued_at=NOW)
    with pytest.raises(ProviderTokenError) as info:
        verify_provider_token(token, other_key().public_key(), NOW)
    assert info.value.reason == "InvalidProviderToken"


def test_provider_token_expired_fails() -> None:
    token = make_provider_token(team_id="T", key_id="K", private_key=KEY, issued_at=NOW)
    assert verify_provider_token(token, KEY.public_key(), NOW + 3600).issued_at == NOW
    with pytest.raises(ProviderTokenError) as info:
        verify_provider_token(token, KEY.public_key(), NOW + 3601)
    assert info.value.reason == "ExpiredProviderToken"


def test_provider_token_from_the_future_fails() -> None:
    token = make_provider_token(team_id="T", key_id="K", private_key=KEY, issued_at=NOW + 600)
    with pytest.raises(ProviderTokenError) as info:
        verify_provider_token(token, KEY.public_key(), NOW)
    assert info.value.reason == "InvalidProviderToken"


def test_tampered_claims_or_alg_fail() -> None:
    token = make_provider_token(team_id="T", key_id="K", private_key=KEY, issued_at=NOW)
    header, _, signature = token.split(".")
    forged = base64.urlsafe_b64encode(b'{"iss":"EVIL","iat":%d}' % NOW).rstrip(b"=").decode()
    none_alg = base64.urlsafe_b64encode(b'{"alg":"none","kid":"K"}').rstrip(b"=").decode()
    for bad in (f"{header}.{forged}.{signature}", f"{none_alg}.{token.split('.')[1]}.", "a.b", ""):
        with pytest.raises(ProviderTokenError):
            verify_provider_token(bad, KEY.public_key(), NOW)


def test_missing_token_reason() -> None:
    with pytest.raises(ProviderTokenError) as info:
        verify_provider_token("", KEY.public_key(), NOW)
    assert info.value.reason == "MissingProviderToken"


def test_provider_token_refuses_other_curves_and_bad_ids() -> None:
    p384 = ec.derive_private_key(5, ec.SECP384R1())
    with pytest.raises(ValidationError) as info:
        make_provider_token(team_id="T", key_id="K", private_key=p384, issued_at=NOW)
    assert info.value.field == "private_key"
    with pytest.raises(ValidationError) as info:
        make_provider_token(team_id="T\n", key_id="K", private_key=KEY, issued_at=NOW)
    assert info.value.field == "team_id"


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=300)
    | st.from_regex(
        r"[A-Za-z0-9_\-]{0,40}\.[A-Za-z0-9_\-]{0,40}\.[A-Za-z0-9_\-]{0,90}", fullmatch=True
    )
)
def test_verify_never_raises_anything_else(token: str) -> None:
    try:
        verify_provider_token(token, KEY.public_key(), NOW)
    except ProviderTokenError as exc:
        assert exc.reason in {
            "MissingProviderToken",
            "InvalidProviderToken",
            "ExpiredProviderToken",
        }


# -- token cache ---------------------------------------------------------------------


def cache() -> ProviderTokenCache:
    return ProviderTokenCache(team_id="TEAM123456", key_id="KEY1234567", private_key=KEY)


def test_cache_reuses_then_refreshes_after_50_minutes() -> None:
    tokens = cache()
    first = tokens.token(NOW)
    assert tokens.token(NOW + 2999) == first
    second = tokens.token(NOW + 3000)
    assert second != first
    assert verify_provider_token(second, KEY.public_key(), NOW + 3000).issued_at == NOW + 3000


def test_cache_invalidate_only_the_current_token() -> None:
    tokens = cache()
    first = tokens.token(NOW)
    tokens.invalidate("some.older.token")
    assert tokens.token(NOW + 5) == first
    tokens.invalidate(first)
    assert tokens.token(NOW + 5) != first


def test_cache_refreshes_when_the_clock_goes_back() -> None:
    tokens = cache()
    first = tokens.token(NOW)
    assert tokens.token(NOW - 1) != first


def test_cache_refuses_refresh_beyond_an_hour() -> None:
    with pytest.raises(ValidationError):
        ProviderTokenCache(team_id="T", key_id="K", private_key=KEY, refresh_after_s=3600)


# -- classify_response ---------------------------------------------------------------


def body(reason: str, **extra: object) -> bytes:
    return json.dumps({"reason": reason, **extra}).encode()


@pytest.mark.parametrize(
    ("status", "raw", "delivered", "retryable", "unregister", "reason"),
    [
        (200, b"", True, False, False, None),
        (410, body("Unregistered", timestamp=1700000000000), False, False, True, "Unregistered"),
        (410, b"", False, False, True, "Unregistered"),
        (400, body("BadDeviceToken"), False, False, True, "BadDeviceToken"),
        (400, body("DeviceTokenNotForTopic"), False, False, True, "DeviceTokenNotForTopic"),
        (400, body("BadTopic"), False, False, False, "BadTopic"),
        (403, body("ExpiredProviderToken"), False, True, False, "ExpiredProviderToken"),
        (403, body("InvalidProviderToken"), False, False, False, "InvalidProviderToken"),
        (413, body("PayloadTooLarge"), False, False, False, "PayloadTooLarge"),
        (429, body("TooManyRequests"), False, True, False, "TooManyRequests"),
        (500, body("InternalServerError"), False, True, False, "InternalServerError"),
        (503, body("ServiceUnavailable"), False, True, False, "ServiceUnavailable"),
        (503, b"<html>oops</html>", False, True, False, None),
        (400, b"\xff\xfe garbage", False, False, False, None),
        (400, b'{"reason": 12}', False, False, False, None),
        (400, b'["BadDeviceToken"]', False, False, False, None),
        (404, b'{"reason": "Bad Path\\n<script>"}', False, False, False, None),
    ],
)
def test_classify(
    status: int, raw: bytes, delivered: bool, retryable: bool, unregister: bool, reason: str | None
) -> None:
    outcome = classify_response(status, raw)
    assert (outcome.delivered, outcome.retryable, outcome.unregister, outcome.reason) == (
        delivered,
        retryable,
        unregister,
        reason,
    )
    assert outcome.status == status


def test_classify_keeps_the_unregistered_timestamp_and_token_refresh_flag() -> None:
    assert classify_response(410, body("Unregistered", timestamp=17)).timestamp_ms == 17
    assert classify_response(403, body("ExpiredProviderToken")).needs_new_token
    assert not classify_response(503, b"").needs_new_token


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-1, max_value=1000), st.binary(max_size=200))
def test_classify_any_answer_is_one_consistent_outcome(status: int, raw: bytes) -> None:
    outcome = classify_response(status, raw)
    assert isinstance(outcome, PushOutcome)
    assert outcome.delivered == (status == 200)
    assert not (outcome.retryable and outcome.unregister)
    assert not (outcome.delivered and (outcome.retryable or outcome.unregister))
