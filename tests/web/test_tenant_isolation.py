"""R21: an organization's key never reaches another organization's objects.

The matrix is generated from the OpenAPI document: every operation that takes
an object id in its path is called with organization A's key on B's object.
Org-scoped operations must answer 404, operator-only ones 403; no answer may
contain any identifier of B, and B's data must be unchanged afterwards.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from tests.conftest import Org, operator_headers
from tests.passes.helpers import add_app_credential, add_apple_pass

from passgate.domain import model as m

# A valid body per operation, so the request reaches the handler (an invalid body
# would be refused with 422 before any lookup, which proves nothing).
BODIES: dict[str, dict[str, Any]] = {
    "operator_put_sso_connection": {"protocol": "oidc", "issuer": "https://i", "client_id": "c"},
    "operator_patch_sso_settings": {"mfa_required": True},
    "update_place": {"name": "Hijacked"},
    "update_schedule": {"name": "Hijacked"},
    "update_door": {"name": "Hijacked"},
    "update_reader": {"name": "Hijacked"},
    "update_group": {"name": "Hijacked"},
    "update_member": {"display_name": "Hijacked"},
    "update_access_right": {"valid_until": "2030-01-01T00:00:00Z"},
    "update_webhook": {"active": False},
    "set_group_doors": {"door_ids": []},
    "set_place_lockdown": {"lockdown": True},
    "grant_subscription": {"valid_from": "2026-01-01T00:00:00Z"},
    "update_subscription": {"status": "cancelled"},
    "create_org_api_key": {"name": "stolen"},
}

PARAM_KIND = {
    "org_id": "org",
    "subscription_id": "subscription",
    "api_key_id": "api_key",
    "command_id": "door_command",
}


def add_door_command(client: TestClient, org: Org, ids: dict[str, str]) -> str:
    """A remote unlock command of the world's door (its reader marked online first)."""
    c = client.app.state.container  # type: ignore[attr-defined]
    with c.uow_factory(org.id) as uow:
        reader = uow.repo(m.Reader).get(ids["reader"])
        reader.online, reader.last_seen_at = True, c.clock.now()
        uow.repo(m.Reader).update(reader)
    r = client.post(f"/api/v1/doors/{ids['door']}/unlock", headers=org.headers)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def _b_ids_of(ids: dict[str, str]) -> set[str]:
    return set(ids.values())


def _snapshot(client: TestClient, org: Org, ids: dict[str, str]) -> dict[str, Any]:
    kinds = (
        "places",
        "schedules",
        "doors",
        "readers",
        "groups",
        "members",
        "access_rights",
        "webhooks",
        "api_keys",
    )
    state = {k: client.get(f"/api/v1/{k}?limit=500", headers=org.headers).json() for k in kinds}
    state["group_doors"] = client.get(
        f"/api/v1/groups/{ids['group']}/doors", headers=org.headers
    ).json()
    state["subscriptions"] = client.get("/api/v1/subscriptions", headers=org.headers).json()
    for key in state["api_keys"]:
        key.pop("last_used_at")
    return state


def test_every_operation_on_another_organizations_objects_is_404_and_leaks_nothing(
    client: TestClient,
) -> None:
    a, b = Org(client, "alpha"), Org(client, "beta")
    a.world()
    ids_b = b.world()
    ids_b["apple_pass"] = add_apple_pass(client, b, ids_b["member"])
    ids_b["app_credential"] = add_app_credential(client, b, ids_b["member"])
    sub = client.post(
        f"/api/v1/organizations/{b.id}/subscriptions",
        json={"valid_from": "2026-01-01T00:00:00Z"},
        headers=operator_headers(),
    )
    ids_b["subscription"] = sub.json()["id"]
    ids_b["door_command"] = add_door_command(client, b, ids_b)
    before = _snapshot(client, b, ids_b)
    b_events_before = client.get("/api/v1/events", headers=b.headers).headers["X-Total-Count"]
    forbidden = _b_ids_of(ids_b)

    doc = client.get("/api/v1/openapi.json").json()
    exercised = 0
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            params = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]
            if not params:
                continue
            url = path
            for name in params:
                kind = PARAM_KIND.get(name, name.removesuffix("_id"))
                assert kind in ids_b, f"no object of kind {kind!r} for {method.upper()} {path}"
                url = url.replace("{" + name + "}", ids_b[kind])
            body = BODIES.get(op["operationId"])
            r = client.request(method.upper(), url, headers=a.headers, json=body)
            # The operator's routes and a member's own (/me) refuse an API key outright.
            expected = 403 if path.startswith(("/api/v1/organizations", "/api/v1/me/")) else 404
            assert r.status_code == expected, (method, path, r.status_code, r.text)
            leaked = [i for i in forbidden if i in r.text]
            assert not leaked, (method, path, leaked)
            exercised += 1
    assert exercised >= 30

    assert _snapshot(client, b, ids_b) == before
    assert (
        client.get("/api/v1/events", headers=b.headers).headers["X-Total-Count"] == b_events_before
    )


def test_lists_show_only_your_own_objects(client: TestClient) -> None:
    a, b = Org(client, "alpha"), Org(client, "beta")
    ids_a = a.world()
    ids_b = b.world()
    doc = client.get("/api/v1/openapi.json").json()
    listed = 0
    for path, ops in doc["paths"].items():
        op = ops.get("get")
        if (
            op is None
            or "{" in path
            or path.startswith(("/api/v1/organizations", "/api/v1/me/"))
            or path == "/api/v1/me"
        ):
            continue  # operator-only, or a member's own (tested in test_roles.py)
        r = client.get(path, headers=a.headers)
        assert r.status_code == 200, (path, r.text)
        text = json.dumps(r.json())
        assert not [i for i in _b_ids_of(ids_b) if i in text], path
        listed += 1
    assert listed >= 10
    # Sanity: the same lists do show A's own objects.
    assert ids_a["door"] in client.get("/api/v1/doors", headers=a.headers).text
