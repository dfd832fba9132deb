"""pass.json for a Passgate door key: a generic-style Wallet pass.

Every input is checked here, before signing, because a pass Wallet rejects fails
silently on the phone. The JSON is serialized with sorted keys and no whitespace so
the same content always gives the same bytes (and the same manifest hash), which
lets the PassKit web service answer 304 honestly.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from passgate.errors import ValidationError

STATUSES = ("active", "suspended", "deleted", "replaced")
# A deleted pass and a pass whose device was replaced are dead for good: Wallet shows
# them as void. A suspended pass may come back, so it is only marked, not voided.
VOIDING_STATUSES = frozenset({"deleted", "replaced"})
STATUS_LABELS = {
    "active": "Active",
    "suspended": "Suspended",
    "deleted": "Deleted",
    "replaced": "Replaced by a newer device",
}
MIN_TOKEN_LENGTH = 16
MAX_TOKEN_LENGTH = 256
MAX_TEXT_LENGTH = 256

_PASS_TYPE_RE = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_TEAM_RE = re.compile(r"^[A-Z0-9]{10}$")
# Serials appear in PassKit web-service URL paths, so keep them to unreserved characters.
_SERIAL_RE = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
# The token travels in an "Authorization: ApplePass <token>" header: visible ASCII only.
_TOKEN_RE = re.compile(r"^[\x21-\x7e]+$")
_COLOR_RE = re.compile(r"^rgb\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*\)$")
_LOCAL_HOSTS = frozenset({"localhost"})
_HEX_RE = re.compile(r"^[0-9a-f]+$")


@dataclass(frozen=True)
class PassContent:
    """Everything that goes into one member's pass.json."""

    pass_type_identifier: str
    team_identifier: str
    serial_number: str
    organization_name: str
    description: str
    member_name: str
    status: str
    web_service_url: str
    authentication_token: str
    door_access_label: str = "Door key"
    voided: bool = False
    sharing_prohibited: bool = True
    foreground_color: str = "rgb(255, 255, 255)"
    background_color: str = "rgb(20, 40, 80)"
    relevant_date: datetime | None = None
    # Aliro reader groups the credential trusts: (group identifier, public key), both hex.
    reader_groups: tuple[tuple[str, str], ...] = ()


def _require_match(value: str, pattern: re.Pattern[str], field: str, rule: str) -> None:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValidationError(f"{field} {rule}", field=field)


def _require_text(value: str, field: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} must be a non-empty string", field=field)
    if len(value) > MAX_TEXT_LENGTH:
        raise ValidationError(f"{field} must be at most {MAX_TEXT_LENGTH} characters", field=field)
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise ValidationError(f"{field} must not contain control characters", field=field)


def _is_local_host(host: str) -> bool:
    if host in _LOCAL_HOSTS or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_web_service_url(url: str) -> None:
    field = "web_service_url"
    if not isinstance(url, str) or len(url) > 2048:
        raise ValidationError("web_service_url must be a URL string", field=field)
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ValidationError("web_service_url is not a valid URL", field=field) from exc
    if not host or parts.username is not None or parts.password is not None:
        raise ValidationError("web_service_url needs a host and no credentials", field=field)
    if parts.query or parts.fragment:
        raise ValidationError("web_service_url must not have a query or fragment", field=field)
    # Wallet only talks to HTTPS; plain HTTP is allowed for a loopback demo server only,
    # so the token never crosses a network in clear text.
    if parts.scheme == "https" or (parts.scheme == "http" and _is_local_host(host)):
        return
    raise ValidationError("web_service_url must use https (http only for localhost)", field=field)


def _check_color(value: str, field: str) -> None:
    match = _COLOR_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None or any(int(channel) > 255 for channel in match.groups()):
        raise ValidationError(f"{field} must look like rgb(R, G, B) with 0-255 values", field=field)


def validate_pass_content(content: PassContent) -> None:
    """Raise ValidationError naming the first field that breaks a rule."""
    _require_match(
        content.pass_type_identifier,
        _PASS_TYPE_RE,
        "pass_type_identifier",
        "must be a reverse-DNS identifier such as pass.com.example.door",
    )
    _require_match(
        content.team_identifier, _TEAM_RE, "team_identifier", "must be 10 capitals or digits"
    )
    _require_match(
        content.serial_number,
        _SERIAL_RE,
        "serial_number",
        "must be 1-128 characters from A-Z a-z 0-9 . _ ~ -",
    )
    for field in ("organization_name", "description", "member_name", "door_access_label"):
        _require_text(getattr(content, field), field)
    if content.status not in STATUSES:
        raise ValidationError(f"status must be one of {', '.join(STATUSES)}", field="status")
    _check_web_service_url(content.web_service_url)
    token = content.authentication_token
    if not isinstance(token, str) or len(token) < MIN_TOKEN_LENGTH:
        raise ValidationError(
            f"authentication_token must be at least {MIN_TOKEN_LENGTH} characters",
            field="authentication_token",
        )
    if len(token) > MAX_TOKEN_LENGTH or not _TOKEN_RE.fullmatch(token):
        raise ValidationError(
            f"authentication_token must be at most {MAX_TOKEN_LENGTH} visible ASCII characters",
            field="authentication_token",
        )
    _check_color(content.foreground_color, "foreground_color")
    _check_color(content.background_color, "background_color")
    for group, key in content.reader_groups:
        if not (_HEX_RE.fullmatch(group) and len(group) == 32):
            raise ValidationError(
                "a reader group identifier is 16 bytes of hex", field="reader_groups"
            )
        if not (_HEX_RE.fullmatch(key) and len(key) == 130 and key.startswith("04")):
            raise ValidationError(
                "a reader group key is an uncompressed point in hex", field="reader_groups"
            )
    for field in ("voided", "sharing_prohibited"):
        if not isinstance(getattr(content, field), bool):
            raise ValidationError(f"{field} must be a boolean", field=field)
    when = content.relevant_date
    if when is not None and (not isinstance(when, datetime) or when.utcoffset() is None):
        raise ValidationError(
            "relevant_date must be a timezone-aware datetime", field="relevant_date"
        )


def is_voided(content: PassContent) -> bool:
    return content.voided or content.status in VOIDING_STATUSES


def _field(key: str, label: str, value: str) -> dict[str, str]:
    return {"key": key, "label": label, "value": value}


def pass_dict(content: PassContent) -> dict[str, Any]:
    """The pass.json document as a dict, after validating ``content``."""
    validate_pass_content(content)
    document: dict[str, Any] = {
        "formatVersion": 1,
        "passTypeIdentifier": content.pass_type_identifier,
        "teamIdentifier": content.team_identifier,
        "serialNumber": content.serial_number,
        "organizationName": content.organization_name,
        "description": content.description,
        "logoText": content.organization_name,
        "webServiceURL": content.web_service_url,
        "authenticationToken": content.authentication_token,
        "sharingProhibited": content.sharing_prohibited,
        "voided": is_voided(content),
        "foregroundColor": content.foreground_color,
        "backgroundColor": content.background_color,
        "labelColor": content.foreground_color,
        "generic": {
            "headerFields": [_field("credential", "Credential", content.door_access_label)],
            "primaryFields": [_field("member", "Member", content.member_name)],
            "secondaryFields": [_field("organization", "Organization", content.organization_name)],
            "auxiliaryFields": [_field("status", "Status", STATUS_LABELS[content.status])],
            "backFields": [_field("about", "About", content.description)],
        },
    }
    if content.relevant_date is not None:
        document["relevantDate"] = content.relevant_date.isoformat(timespec="seconds")
    if content.reader_groups:
        # Provisioning data for the credential (userInfo is pass.json's free-form field).
        document["userInfo"] = {
            "aliro": {
                "readerGroups": [
                    {"groupIdentifier": group, "publicKey": key}
                    for group, key in content.reader_groups
                ]
            }
        }
    return document


def build_pass_json(content: PassContent) -> bytes:
    """Canonical pass.json bytes (sorted keys, compact, UTF-8) for ``content``."""
    return json.dumps(
        pass_dict(content), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
