"""Helpers shared by the passkit tests (a unique module name, importable from any test)."""

from __future__ import annotations

from passgate.proto.passkit import PassContent

PASS_TYPE = "pass.com.example.passgate.door"
TEAM = "ABCDE12345"


def make_content(**changes: object) -> PassContent:
    values: dict[str, object] = {
        "pass_type_identifier": PASS_TYPE,
        "team_identifier": TEAM,
        "serial_number": "serial-0001",
        "organization_name": "Example Corp",
        "description": "Example Corp door key",
        "member_name": "Ada Lovelace",
        "status": "active",
        "web_service_url": "https://passgate.example.com/passkit",
        "authentication_token": "tok-0123456789abcdef",
    }
    values.update(changes)
    return PassContent(**values)  # type: ignore[arg-type]
