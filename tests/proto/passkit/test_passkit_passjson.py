from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from tests.proto.passkit.passkit_helpers import PASS_TYPE, TEAM, make_content

from passgate.domain.errors import ValidationError
from passgate.proto.passkit import build_pass_json


def _load(**changes: object) -> dict[str, object]:
    value = json.loads(build_pass_json(make_content(**changes)))
    assert isinstance(value, dict)
    return value


def test_required_keys_and_generic_style() -> None:
    document = _load()
    assert document["formatVersion"] == 1
    assert document["passTypeIdentifier"] == PASS_TYPE
    assert document["teamIdentifier"] == TEAM
    assert document["serialNumber"] == "serial-0001"
    assert document["organizationName"] == "Example Corp"
    assert document["description"] == "Example Corp door key"
    assert document["webServiceURL"] == "https://passgate.example.com/passkit"
    assert document["authenticationToken"] == "tok-0123456789abcdef"
    assert document["sharingProhibited"] is True
    assert document["voided"] is False
    generic = document["generic"]
    assert isinstance(generic, dict)
    values = {field["key"]: field["value"] for group in generic.values() for field in group}
    assert values["member"] == "Ada Lovelace"
    assert values["organization"] == "Example Corp"
    assert values["status"] == "Active"
    assert values["credential"] == "Door key"
    assert "relevantDate" not in document


def test_output_is_canonical() -> None:
    raw = build_pass_json(make_content())
    assert raw == build_pass_json(make_content())
    assert raw == json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    ("status", "voided", "expected"),
    [
        ("active", False, False),
        ("suspended", False, False),
        ("deleted", False, True),
        ("replaced", False, True),
        ("active", True, True),
    ],
)
def test_voided(status: str, voided: bool, expected: bool) -> None:
    document = _load(status=status, voided=voided)
    assert document["voided"] is expected


def test_suspended_is_marked() -> None:
    generic = _load(status="suspended")["generic"]
    assert isinstance(generic, dict)
    assert generic["auxiliaryFields"][0]["value"] == "Suspended"


def test_relevant_date_is_iso_with_offset() -> None:
    when = datetime(2026, 5, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    assert _load(relevant_date=when)["relevantDate"] == "2026-05-01T09:30:00+02:00"


def test_sharing_can_be_allowed_explicitly() -> None:
    assert _load(sharing_prohibited=False)["sharingProhibited"] is False


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"authentication_token": "short-token-15ch"[:15]}, "authentication_token"),
        ({"authentication_token": "has a space in the token"}, "authentication_token"),
        ({"pass_type_identifier": "not a type"}, "pass_type_identifier"),
        ({"team_identifier": "abc"}, "team_identifier"),
        ({"serial_number": "a/b"}, "serial_number"),
        ({"serial_number": ""}, "serial_number"),
        ({"organization_name": "  "}, "organization_name"),
        ({"member_name": "x\ny"}, "member_name"),
        ({"description": "d" * 257}, "description"),
        ({"status": "gone"}, "status"),
        ({"web_service_url": "http://passgate.example.com/passkit"}, "web_service_url"),
        ({"web_service_url": "ftp://passgate.example.com/"}, "web_service_url"),
        ({"web_service_url": "https://user:pw@passgate.example.com/"}, "web_service_url"),
        ({"web_service_url": "https://passgate.example.com/?q=1"}, "web_service_url"),
        ({"web_service_url": "https://:99999/"}, "web_service_url"),
        ({"foreground_color": "red"}, "foreground_color"),
        ({"background_color": "rgb(256, 0, 0)"}, "background_color"),
        ({"relevant_date": datetime(2026, 1, 1)}, "relevant_date"),
        ({"voided": "yes"}, "voided"),
    ],
)
def test_invalid_inputs_name_their_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        build_pass_json(make_content(**changes))
    assert info.value.field == field
    assert field in info.value.message


def test_short_token_rejected_and_not_echoed() -> None:
    with pytest.raises(ValidationError) as info:
        build_pass_json(make_content(authentication_token="fifteen-chars!!"))
    assert info.value.field == "authentication_token"
    assert "fifteen-chars!!" not in str(info.value)


def test_token_of_exactly_16_accepted() -> None:
    assert _load(authentication_token="x" * 16)["authenticationToken"] == "x" * 16


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000/passkit", "http://localhost/passkit", "http://[::1]:8443/"]
)
def test_plain_http_only_for_loopback(url: str) -> None:
    assert _load(web_service_url=url)["webServiceURL"] == url


def test_utc_relevant_date() -> None:
    when = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    assert _load(relevant_date=when)["relevantDate"] == "2026-05-01T09:30:00+00:00"


def test_reader_groups_travel_in_user_info() -> None:
    group, key = "00" * 16, "04" + "11" * 64
    document = _load(reader_groups=((group, key),))
    assert document["userInfo"] == {
        "aliro": {"readerGroups": [{"groupIdentifier": group, "publicKey": key}]}
    }
    assert "userInfo" not in _load()


@pytest.mark.parametrize(
    "groups",
    [
        (("00" * 15, "04" + "11" * 64),),
        (("00" * 16, "05" + "11" * 64),),
        (("GG" * 16, "04" + "11" * 64),),
    ],
)
def test_malformed_reader_groups_are_refused(groups: tuple[tuple[str, str], ...]) -> None:
    with pytest.raises(ValidationError) as err:
        build_pass_json(make_content(reader_groups=groups))
    assert err.value.field == "reader_groups"
