"""SPEC section 2, eligibility for Apple Passes (R1, R2, R3), end to end.

R1: passes only while SSO is enforced with MFA required AND the Apple Pass subscription
is valid. R2: MFA is what the IdP proves (the dev IdP's one-time code step), not what the
client claims. R3: losing eligibility stops existing passes at the reader at once with
a clear reason, the organization endpoint says why, and they work again when it returns.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.e2e.world import Person, World

from passgate.services.seed import FRONT_DOOR


def test_add_refused_while_the_org_does_not_require_mfa(world: World, person: Person) -> None:
    phone = world.phone_signed_in(person)
    with world.sso_flags(mfa_required=False):
        message = world.refused(lambda: world.emu.add_pass(phone))
        assert "org_not_eligible" in message and "multi-factor" in message, message
        assert world.emu.passes(phone) == []
    # Eligible again: the same signed-in app adds the pass.
    added = world.emu.add_pass(phone)
    assert added.body["created"] is True and added.added_to == [phone]


def test_subscription_lapsing_mid_life_denies_taps_and_the_org_says_why(
    world: World, person: Person
) -> None:
    phone, _, _ = world.with_pass(person)
    world.tap_until(person, phone, "granted")
    # It runs out on its own a moment from now: no admin action ends it.
    with world.subscription_until(datetime.now(UTC) + timedelta(seconds=2)):
        denied = world.tap_until(person, phone, "org_not_eligible")
        assert denied["granted"] is False
        org = world.api("GET", "/organization")
        assert org["apple_pass_eligible"] is False
        assert org["eligibility_reasons"] == ["subscription_expired"], org
    # Renewed: nothing else revoked the pass, so it opens the door again (R3).
    world.tap_until(person, phone, "granted")
    org = world.api("GET", "/organization")
    assert org["apple_pass_eligible"] is True and org["eligibility_reasons"] == []


def test_mfa_switched_off_denies_existing_passes_until_switched_back(
    world: World, person: Person
) -> None:
    phone, _, _ = world.with_pass(person)
    with world.sso_flags(mfa_required=False):
        world.tap_until(person, phone, "org_not_eligible")
        why = world.api("GET", "/organization")["eligibility_reasons"]
        assert any("mfa" in w.lower() or "multi" in w.lower() for w in why), why
    world.tap_until(person, phone, "granted")


def test_single_factor_sign_in_is_refused_when_the_org_requires_mfa(
    world: World, person: Person
) -> None:
    phone = person.dev("phone")
    world.emu.new_iphone(phone)
    message = world.refused(lambda: world.emu.sign_in(phone, person.username, use_otp=False))
    assert "sign-in failed" in message
    # No app session was made, so there is nothing to add a pass with.
    assert "sign in" in world.refused(lambda: world.emu.add_pass(phone))


def test_a_single_factor_session_cannot_add_a_pass(world: World, person: Person) -> None:
    phone = person.dev("phone")
    world.emu.new_iphone(phone)
    with world.sso_flags(mfa_required=False):
        # Without the requirement the IdP's password-only login is accepted, as single-factor.
        assert world.emu.sign_in(phone, person.username, use_otp=False) is False
    # The organization is eligible again, but this session never proved a second factor.
    message = world.refused(lambda: world.emu.add_pass(phone))
    assert "mfa_required" in message and "single-factor" in message, message
    assert world.emu.passes(phone) == []
    # Signing in again with the one-time code fixes it.
    assert world.emu.sign_in(phone, person.username) is True
    assert world.emu.add_pass(phone).added_to == [phone]


def test_client_cannot_claim_mfa_the_idp_did_not_prove(world: World, person: Person) -> None:
    """R2: MFA comes from the IdP's amr on the session, never from what the app sends."""
    phone = person.dev("phone")
    world.emu.new_iphone(phone)
    with world.sso_flags(mfa_required=False):
        assert world.emu.sign_in(phone, person.username, use_otp=False) is False
    device = world.emu.home.device(phone)  # as saved after the sign-in, with its app token
    body = {
        "iphone": {
            "device_id": device.state.device_id,
            "model": device.state.model,
            "ios_version": device.state.os_version,
            "app_version": device.state.app_version,
            "public_key": device.public_key.hex(),
        }
    }
    auth = {"Authorization": f"Bearer {device.state.app_token}"}
    claimed = world.http.post("/api/v1/me/apple_pass", json={**body, "amr": ["otp"]}, headers=auth)
    assert claimed.status_code == 422 and "amr" in claimed.text, claimed.text
    plain = world.http.post("/api/v1/me/apple_pass", json=body, headers=auth)
    assert plain.status_code == 409 and plain.json()["error"]["code"] == "mfa_required"
    # The reader never learnt this key.
    assert world.tap(person, phone, FRONT_DOOR)["reason"] == "unknown_credential"
