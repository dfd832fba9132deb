"""Pure SSO rules: MFA proof (R2) and the ID token claim checks, including fuzzed claims."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passgate.adapters.oidc import unverified_header
from passgate.domain.sso import (
    DEFAULT_OIDC_MFA,
    DEFAULT_SAML_MFA,
    LoginRefused,
    check_id_token_claims,
    default_accepted_mfa,
    evaluate_oidc_mfa,
    evaluate_saml_mfa,
)

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
T = int(NOW.timestamp())


def _claims(**over: Any) -> dict[str, Any]:
    base = {"iss": "https://i", "aud": "c", "sub": "s", "nonce": "n", "iat": T, "exp": T + 60}
    return {**base, **over}


def _check(claims: dict[str, Any]) -> datetime:
    return check_id_token_claims(
        claims,
        issuer="https://i",
        client_id="c",
        nonce="n",
        now=NOW,
        max_auth_age=timedelta(hours=1),
    )


def test_oidc_mfa_is_proven_by_an_accepted_amr_or_acr() -> None:
    assert evaluate_oidc_mfa(["pwd", "otp"], None, DEFAULT_OIDC_MFA).proven
    assert evaluate_oidc_mfa(["hwk"], None, DEFAULT_OIDC_MFA).proven
    assert not evaluate_oidc_mfa(["pwd"], None, DEFAULT_OIDC_MFA).proven
    assert not evaluate_oidc_mfa("mfa", None, DEFAULT_OIDC_MFA).proven  # amr must be a list
    assert evaluate_oidc_mfa(["pwd"], "urn:corp:mfa", ["urn:corp:mfa"]).proven
    verdict = evaluate_oidc_mfa(["pwd", 7], "urn:x", DEFAULT_OIDC_MFA)
    assert verdict.methods == ("pwd", "urn:x") and not verdict.proven


def test_saml_mfa_uses_the_accepted_class_refs() -> None:
    assert evaluate_saml_mfa(["https://refeds.org/profile/mfa"], DEFAULT_SAML_MFA).proven
    pwd = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    assert not evaluate_saml_mfa([pwd], DEFAULT_SAML_MFA).proven
    assert default_accepted_mfa("saml") == list(DEFAULT_SAML_MFA)
    assert default_accepted_mfa("oidc") == list(DEFAULT_OIDC_MFA)


def test_good_claims_give_auth_time_and_each_bad_claim_its_reason() -> None:
    assert _check(_claims(auth_time=T - 30)) == NOW - timedelta(seconds=30)
    assert _check(_claims()) == NOW  # no auth_time: iat
    cases = {
        "wrong_issuer": _claims(iss="https://other"),
        "wrong_audience": _claims(aud=["c", "d"]),
        "expired": _claims(exp=T - 120),
        "issued_in_future": _claims(iat=T + 600, exp=T + 900),
        "missing_nonce": _claims(nonce=None),
        "nonce_mismatch": _claims(nonce="m"),
        "auth_time_too_old": _claims(auth_time=T - 7200),
        "bad_exp": _claims(exp=True),
        "bad_sub": _claims(sub=""),
        "bad_iat": _claims(iat=10**20),
    }
    for reason, claims in cases.items():
        with pytest.raises(LoginRefused) as info:
            _check(claims)
        assert info.value.reason == reason, reason
    assert _check(_claims(aud=["c", "d"], azp="c")) == NOW


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["iss", "aud", "sub", "nonce", "iat", "exp", "auth_time", "azp"]),
        json_values,
    )
)
def test_any_claims_are_accepted_or_refused_never_a_crash(claims: dict[str, Any]) -> None:
    with contextlib.suppress(LoginRefused):
        _check({**_claims(), **claims})


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=60))
def test_any_token_header_is_parsed_or_refused(token: str) -> None:
    with contextlib.suppress(LoginRefused):
        assert isinstance(unverified_header(token), dict)
