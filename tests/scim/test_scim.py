"""SCIM 2.0 provisioning (R23): an IdP creates and deprovisions members; deprovisioned
members lose their Apple Passes at once."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from tests.conftest import Org
from tests.passes.helpers import app_headers, eligible_member, iphone

SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _user(**over: Any) -> dict[str, Any]:
    return {
        "schemas": [SCHEMA],
        "userName": "kim@example.com",
        "externalId": "idp-42",
        "name": {"givenName": "Kim", "familyName": "Lee"},
        "active": True,
        **over,
    }


def test_the_idp_creates_finds_and_updates_a_member(client: TestClient) -> None:
    org = Org(client, "acme")
    r = client.post("/scim/v2/Users", json=_user(), headers=org.headers)
    assert r.status_code == 201, r.text
    assert r.headers["content-type"].startswith("application/scim+json")
    user = r.json()
    assert (
        user["displayName"] == "Kim Lee"
        and user["active"] is True
        and user["externalId"] == "idp-42"
    )
    found = client.get(
        '/scim/v2/Users?filter=userName eq "kim@example.com"', headers=org.headers
    ).json()
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == user["id"]
    r = client.put(
        f"/scim/v2/Users/{user['id']}", json=_user(displayName="Kim B. Lee"), headers=org.headers
    )
    assert r.status_code == 200 and r.json()["displayName"] == "Kim B. Lee"
    member = client.get(f"/api/v1/members/{user['id']}", headers=org.headers).json()
    assert member["display_name"] == "Kim B. Lee" and member["external_id"] == "idp-42"


def test_deprovisioning_deactivates_the_member_and_deletes_their_pass(client: TestClient) -> None:
    ann = ann_member = eligible_member(client)
    body = ann.add({"iphone": iphone()}).json()
    org = ann.org
    patch = {
        "schemas": [PATCH],
        "Operations": [{"op": "replace", "path": "active", "value": False}],
    }
    r = client.patch(f"/scim/v2/Users/{ann_member.member_id}", json=patch, headers=org.headers)
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False
    assert (
        client.get(f"/api/v1/apple_passes/{body['pass_id']}", headers=org.headers).json()["status"]
        == "deleted"
    )
    # The app session of the deprovisioned member stops working too.
    assert client.get("/api/v1/organization", headers=ann.headers).status_code == 401
    audit = client.get("/api/v1/events?type=apple_pass.deleted", headers=org.headers).json()
    assert audit and audit[0]["actor_type"] == "api_key"


def test_delete_deprovisions_and_a_returning_user_is_reactivated(client: TestClient) -> None:
    ann = eligible_member(client)
    ann.add({"iphone": iphone()})
    org = ann.org
    assert client.delete(f"/scim/v2/Users/{ann.member_id}", headers=org.headers).status_code == 204
    got = client.get(f"/scim/v2/Users/{ann.member_id}", headers=org.headers).json()
    assert got["active"] is False
    r = client.put(
        f"/scim/v2/Users/{ann.member_id}",
        json=_user(userName="ann@example.com", displayName="Ann Example", externalId=None),
        headers=org.headers,
    )
    assert r.status_code == 200 and r.json()["active"] is True
    fresh = app_headers(client, org.id, ann.member_id)
    again = client.post(
        "/api/v1/me/apple_pass", json={"iphone": iphone(device_id="iphone-2")}, headers=fresh
    )
    assert again.status_code == 200, again.text  # R7: after a delete, a new pass


def test_bad_requests_get_scim_errors_and_change_nothing(client: TestClient) -> None:
    org = Org(client, "acme")
    for body in (
        {"userName": "x@example.com"},
        _user(userName=""),
        _user(active="yes"),
        ["not", "an", "object"],
    ):
        r = client.post("/scim/v2/Users", json=body, headers=org.headers)
        assert r.status_code == 422, body
        err = r.json()
        assert err["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"] and err["detail"]
    r = client.get('/scim/v2/Users?filter=emails co "x"', headers=org.headers)
    assert r.status_code == 422
    r = client.patch(f"/scim/v2/Users/mbr_{'0' * 24}", json={"Operations": []}, headers=org.headers)
    assert r.status_code == 404
    assert client.get("/api/v1/members", headers=org.headers).headers["X-Total-Count"] == "0"


def test_another_organizations_token_reaches_nothing_and_read_only_keys_cannot_provision(
    client: TestClient,
) -> None:
    a, b = Org(client, "alpha"), Org(client, "beta")
    kim = client.post("/scim/v2/Users", json=_user(), headers=a.headers).json()
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        body = (
            _user()
            if method == "PUT"
            else {"Operations": [{"op": "replace", "path": "active", "value": False}]}
        )
        r = client.request(method, f"/scim/v2/Users/{kim['id']}", json=body, headers=b.headers)
        assert r.status_code == 404 and kim["id"] not in r.text, method
    assert client.get("/scim/v2/Users", headers=b.headers).json()["totalResults"] == 0
    ro = client.post(
        "/api/v1/api_keys", json={"name": "ro", "role": "read_only"}, headers=a.headers
    ).json()
    r = client.post(
        "/scim/v2/Users",
        json=_user(userName="z@example.com"),
        headers={"Authorization": f"Bearer {ro['token']}"},
    )
    assert r.status_code == 403
    assert (
        client.get(f"/api/v1/members/{kim['id']}", headers=a.headers).json()["status"] == "active"
    )
