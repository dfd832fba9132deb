"""Input limits at the edge: size while reading, control characters, depth, datetimes, bodies.

Each case once gave a 500 on PostgreSQL or went through unchecked; every refusal is a
4xx naming the field and the rule, comes before sign-in, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import Org

from passgate.web import limits

JSON = {"Content-Type": "application/json"}


def _error(r: Any) -> dict[str, Any]:
    """The REST error body, or a SCIM error read the same way (SCIM has no code or field)."""
    body = r.json()
    if "schemas" in body:
        return {"code": None, "message": body["detail"], "field": None, "scim": True}
    return dict(body["error"])


def _count(client: TestClient, org: Org, kind: str) -> str:
    return client.get(f"/api/v1/{kind}", headers=org.headers).headers["X-Total-Count"]


@pytest.mark.parametrize(
    "path",
    ["/api/v1/places", "/passkit/v1/log", "/scim/v2/Users", "/reader/v1/pair", "/api/v1/app/token"],
)
def test_an_oversized_body_is_413_before_sign_in(client: TestClient, path: str) -> None:
    too_big = b'{"name": "' + b"x" * (limits.limit_for(path) + 1) + b'"}'
    r = client.post(path, content=too_big, headers=JSON)  # no credentials at all
    assert r.status_code == 413, r.text
    error = _error(r)
    assert error["message"] == f"the request body is larger than {limits.limit_for(path)} bytes"
    assert error.get("scim") or (error["code"], error["field"]) == ("body_too_large", "body")


def _chunks(total: int) -> Iterator[bytes]:
    yield b'{"name": "'
    for _ in range(total // 1024):
        yield b"x" * 1024
    yield b'"}'


def test_a_chunked_body_is_cut_off_while_reading(client: TestClient) -> None:
    # No Content-Length: the limit is counted as the chunks arrive.
    r = client.post("/api/v1/places", content=_chunks(10 * 1024 * 1024), headers=JSON)
    assert r.status_code == 413


def test_the_limit_is_per_route(client: TestClient) -> None:
    assert limits.limit_for("/passkit/v1/log") < limits.limit_for("/api/v1/places")
    assert limits.limit_for("/api/v1/sso/connection") >= 200_000  # SAML metadata fits
    org = Org(client, "acme")
    body = {"name": "HQ", "address": "x" * 100}
    assert client.post("/api/v1/places", json=body, headers=org.headers).status_code == 201


CONTROL_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("/api/v1/places", {"name": "a\u0000b"}, "name"),
    ("/api/v1/places", {"name": "ok", "address": "line\u0001"}, "address"),
    ("/api/v1/members", {"email": "a@example.com", "display_name": "A\u007f"}, "display_name"),
    (
        "/api/v1/schedules",
        {"name": "S", "windows": [{"weekday": 0, "start": "08:00\u0000", "end": "09:00"}]},
        "windows[0].start",
    ),
    ("/api/v1/places", {"na\u0000me": "x"}, "body"),
    (
        "/api/v1/app/token",
        {"code": "\u0000", "code_verifier": "v" * 43, "redirect_uri": "x"},
        "code",
    ),
    ("/reader/v1/pair", {"code": "AB\u0000", "public_key": "k"}, "code"),
    ("/scim/v2/Users", {"userName": "a\u0000@example.com"}, "userName"),
    ("/passkit/v1/log", {"logs": ["\u0000"]}, "logs[0]"),
]


@pytest.mark.parametrize(("path", "body", "field"), CONTROL_BODIES)
def test_control_characters_are_422_naming_the_field(
    client: TestClient, path: str, body: dict[str, Any], field: str
) -> None:
    org = Org(client, "acme")
    before = _count(client, org, "places"), _count(client, org, "members")
    for headers in ({}, org.headers):  # the same answer signed in or not
        r = client.post(path, json=body, headers=headers)
        assert r.status_code == 422, r.text
        error = _error(r)
        assert error["message"] == f"{field}: NUL and other control characters are not allowed"
        assert error.get("scim") or (error["code"], error["field"]) == ("control_character", field)
    assert (_count(client, org, "places"), _count(client, org, "members")) == before


def test_newlines_and_tabs_stay_allowed_in_bodies(client: TestClient) -> None:
    org = Org(client, "acme")
    r = client.post(
        "/api/v1/places",
        json={"name": "HQ", "address": "1 Main St\n\tSuite 2"},
        headers=org.headers,
    )
    assert r.status_code == 201, r.text


def test_control_characters_in_query_path_and_forms_are_refused(client: TestClient) -> None:
    org = Org(client, "acme")
    r = client.get("/api/v1/places?q=a%00b", headers=org.headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "q"
    r = client.get("/api/v1/doors/door%00x", headers=org.headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "path"
    r = client.get("/sso/acme%00/login")
    assert r.status_code == 422
    r = client.post(
        "/sso/acme/saml/acs",
        content=b"SAMLResponse=abc%00&RelayState=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "SAMLResponse"


def test_deeply_nested_json_is_422(client: TestClient) -> None:
    org = Org(client, "acme")
    for depth in (limits.MAX_DEPTH + 1, 20_000):
        raw = b"[" * depth + b"]" * depth
        r = client.post("/api/v1/places", content=raw, headers={**org.headers, **JSON})
        assert r.status_code == 422 and r.json()["error"]["code"] == "too_deep", depth
    nested: Any = "x"
    for _ in range(limits.MAX_DEPTH):
        nested = [nested]
    r = client.post("/api/v1/places", json={"name": "n", "address": nested}, headers=org.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "too_deep"


def test_malformed_json_is_refused_before_sign_in_everywhere(client: TestClient) -> None:
    for path in ("/api/v1/places", "/api/v1/app/token", "/scim/v2/Users", "/passkit/v1/log"):
        for headers in (JSON, {}):  # no content type: FastAPI would parse it as JSON
            r = client.post(path, content=b'{"name": ', headers=headers)
            assert r.status_code == 400, path
            assert _error(r)["message"] == "the request body is not valid JSON", path
        r = client.post(path, content=b"\xff\xfe", headers=JSON)
        assert r.status_code == 400, path


@pytest.mark.parametrize("value", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00"])
def test_datetimes_that_overflow_in_utc_are_422(client: TestClient, value: str) -> None:
    org = Org(client, "acme")
    ids = org.world()
    before = _count(client, org, "access_rights")
    body = {"member_id": ids["member"], "group_id": ids["group"], "valid_until": value}
    r = client.post("/api/v1/access_rights", json=body, headers=org.headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "valid_until", r.text
    r = client.patch(
        f"/api/v1/access_rights/{ids['access_right']}",
        json={"valid_from": value},
        headers=org.headers,
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "valid_from", r.text
    r = client.get(f"/api/v1/events?since={value.replace('+', '%2B')}", headers=org.headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "since", r.text
    assert _count(client, org, "access_rights") == before


def test_action_endpoints_refuse_a_body(client: TestClient) -> None:
    org = Org(client, "acme")
    ids = org.world()
    actions = [
        ("POST", f"/api/v1/readers/{ids['reader']}/clear-tamper"),
        ("POST", f"/api/v1/readers/{ids['reader']}/pairing_code"),
        ("POST", "/api/v1/apple_passes/ap_x/suspend"),
        ("POST", "/api/v1/apple_passes/ap_x/resume"),
        ("DELETE", f"/api/v1/doors/{ids['door']}"),
        ("DELETE", f"/api/v1/api_keys/{ids['api_key']}"),
    ]
    events = client.get("/api/v1/events", headers=org.headers).headers["X-Total-Count"]
    for method, url in actions:
        r = client.request(method, url, json={"confirm": True}, headers=org.headers)
        assert r.status_code == 422, (url, r.text)
        assert r.json()["error"] == {
            "code": "validation_error",
            "message": "this operation takes no request body",
            "field": "body",
        }
        r = client.request(method, url, content=b"{oops", headers={**org.headers, **JSON})
        assert r.status_code == 400, (url, r.text)
    assert client.get("/api/v1/events", headers=org.headers).headers["X-Total-Count"] == events
    r = client.post(f"/api/v1/readers/{ids['reader']}/clear-tamper", headers=org.headers)
    assert r.status_code == 200  # without a body it still works
