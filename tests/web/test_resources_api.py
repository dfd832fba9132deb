"""The configuration API as an admin uses it, on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.conftest import Org, operator_headers


def test_create_read_list_update_delete_a_place(client: TestClient) -> None:
    org = Org(client, "acme")
    created = org.post(
        "/places", {"name": "HQ", "timezone": "Europe/Berlin", "address": "Main St 1"}
    )
    assert created["timezone"] == "Europe/Berlin"
    got = client.get(f"/api/v1/places/{created['id']}", headers=org.headers)
    assert got.status_code == 200 and got.json() == created

    changed = client.patch(
        f"/api/v1/places/{created['id']}", json={"name": "Head office"}, headers=org.headers
    )
    assert changed.status_code == 200
    assert changed.json()["name"] == "Head office" and changed.json()["address"] == "Main St 1"

    listed = client.get("/api/v1/places", headers=org.headers)
    assert listed.headers["X-Total-Count"] == "1"
    assert [p["name"] for p in listed.json()] == ["Head office"]

    assert client.delete(f"/api/v1/places/{created['id']}", headers=org.headers).status_code == 204
    assert client.get(f"/api/v1/places/{created['id']}", headers=org.headers).status_code == 404


def test_pagination_reports_the_total_and_pages_in_creation_order(client: TestClient) -> None:
    org = Org(client, "acme")
    names = [f"Member {i:02d}" for i in range(7)]
    for i, name in enumerate(names):
        org.post("/members", {"email": f"m{i}@example.com", "display_name": name})
    page = client.get("/api/v1/members?limit=3&offset=3", headers=org.headers)
    assert page.headers["X-Total-Count"] == "7"
    assert [m["display_name"] for m in page.json()] == names[3:6]
    found = client.get("/api/v1/members?q=ber 05", headers=org.headers)
    assert [m["display_name"] for m in found.json()] == ["Member 05"]


def test_every_change_is_an_audit_event_naming_actor_and_before_after(client: TestClient) -> None:
    org = Org(client, "acme")
    place = org.post("/places", {"name": "HQ"})
    client.patch(f"/api/v1/places/{place['id']}", json={"name": "HQ2"}, headers=org.headers)
    events = client.get(
        "/api/v1/events?category=audit&type=place.updated", headers=org.headers
    ).json()
    assert len(events) == 1
    event = events[0]
    assert event["actor_type"] == "api_key" and event["actor_name"] == "admin"
    assert event["object_id"] == place["id"]
    assert event["data"]["before"] == {"name": "HQ"} and event["data"]["after"] == {"name": "HQ2"}


def test_door_inherits_the_place_timezone_and_reports_apple_pass_readiness(
    client: TestClient,
) -> None:
    org = Org(client, "acme")
    place = org.post("/places", {"name": "HQ", "timezone": "America/New_York"})
    door = org.post("/doors", {"place_id": place["id"], "name": "Front"})
    assert door["timezone"] == "America/New_York"
    assert door["staleness_limit_s"] == 36 * 3600
    assert door["apple_pass"] == {"ready": False, "reasons": ["no_reader"]}

    reader = org.post(
        "/readers",
        {"door_id": door["id"], "name": "R", "model": "reader_pro_2_0", "firmware": "2.0.9"},
    )
    assert reader["apple_pass"]["reasons"] == ["reader_unsupported"]
    got = client.get(f"/api/v1/doors/{door['id']}", headers=org.headers).json()
    assert got["apple_pass"] == {"ready": False, "reasons": ["reader_unsupported"]}

    client.patch(
        f"/api/v1/readers/{reader['id']}",
        json={"model": "reader_pro_2_1", "tamper_protection": False},
        headers=org.headers,
    )
    got = client.get(f"/api/v1/doors/{door['id']}", headers=org.headers).json()
    assert got["apple_pass"] == {"ready": False, "reasons": ["tamper_protection_off"]}
    client.patch(
        f"/api/v1/readers/{reader['id']}", json={"tamper_protection": True}, headers=org.headers
    )
    got = client.get(f"/api/v1/doors/{door['id']}", headers=org.headers).json()
    assert got["apple_pass"] == {"ready": True, "reasons": []}


def test_references_must_exist_in_the_same_organization(client: TestClient) -> None:
    a, b = Org(client, "alpha"), Org(client, "beta")
    b_place = b.post("/places", {"name": "B HQ"})
    r = client.post(
        "/api/v1/doors", json={"place_id": b_place["id"], "name": "X"}, headers=a.headers
    )
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "place_id"
    assert client.get("/api/v1/doors", headers=a.headers).headers["X-Total-Count"] == "0"


def test_deleting_a_place_with_doors_is_refused_and_changes_nothing(client: TestClient) -> None:
    org = Org(client, "acme")
    place = org.post("/places", {"name": "HQ"})
    org.post("/doors", {"place_id": place["id"], "name": "Front"})
    r = client.delete(f"/api/v1/places/{place['id']}", headers=org.headers)
    assert r.status_code == 409 and "doors" in r.json()["error"]["message"]
    assert client.get(f"/api/v1/places/{place['id']}", headers=org.headers).status_code == 200


def test_deleting_a_group_removes_its_access_rights_and_door_links(client: TestClient) -> None:
    org = Org(client, "acme")
    ids = org.world()
    assert client.delete(f"/api/v1/groups/{ids['group']}", headers=org.headers).status_code == 204
    assert (
        client.get(f"/api/v1/access_rights/{ids['access_right']}", headers=org.headers).status_code
        == 404
    )
    # The door is now free of links and can be deleted once its reader goes.
    assert client.delete(f"/api/v1/readers/{ids['reader']}", headers=org.headers).status_code == 204
    assert client.delete(f"/api/v1/doors/{ids['door']}", headers=org.headers).status_code == 204


def test_group_doors_are_replaced_as_a_set(client: TestClient) -> None:
    org = Org(client, "acme")
    ids = org.world()
    door2 = org.post("/doors", {"place_id": ids["place"], "name": "Back"})["id"]
    r = client.put(
        f"/api/v1/groups/{ids['group']}/doors",
        json={"door_ids": [door2, ids["door"], door2]},
        headers=org.headers,
    )
    assert r.status_code == 200 and r.json()["door_ids"] == sorted([door2, ids["door"]])
    r = client.put(
        f"/api/v1/groups/{ids['group']}/doors",
        json={"door_ids": ["door_" + "0" * 24]},
        headers=org.headers,
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "door_ids[0]"
    got = client.get(f"/api/v1/groups/{ids['group']}/doors", headers=org.headers).json()
    assert got["door_ids"] == sorted([door2, ids["door"]])


def test_schedule_windows_are_validated_with_the_field_named(client: TestClient) -> None:
    org = Org(client, "acme")
    r = client.post(
        "/api/v1/schedules",
        json={
            "name": "Bad",
            "windows": [
                {"weekday": 1, "start": "08:00", "end": "18:00"},
                {"weekday": 2, "start": "25:00", "end": "18:00"},
            ],
        },
        headers=org.headers,
    )
    assert r.status_code == 422
    assert r.json()["error"]["field"].startswith("windows[1]")
    ok = org.post(
        "/schedules",
        {
            "name": "Night",
            "windows": [{"weekday": 4, "start": "22:00", "end": "06:00"}],
            "holidays": ["2026-12-25"],
        },
    )
    assert ok["windows"] == [{"weekday": 4, "start": "22:00", "end": "06:00"}]
    assert ok["holidays"] == ["2026-12-25"]


def test_access_right_window_must_be_ordered_and_aware(client: TestClient) -> None:
    org = Org(client, "acme")
    ids = org.world()
    r = client.post(
        "/api/v1/access_rights",
        json={
            "member_id": ids["member"],
            "group_id": ids["group"],
            "valid_from": "2026-12-01T00:00:00+00:00",
            "valid_until": "2026-11-01T00:00:00+00:00",
        },
        headers=org.headers,
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "valid_until"
    r = client.post(
        "/api/v1/access_rights",
        json={
            "member_id": ids["member"],
            "group_id": ids["group"],
            "valid_from": "2026-12-01T00:00:00",
        },
        headers=org.headers,
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "valid_from"


def test_member_email_is_unique_per_organization_only(client: TestClient) -> None:
    a, b = Org(client, "alpha"), Org(client, "beta")
    a.post("/members", {"email": "Same@Example.com", "display_name": "A"})
    r = client.post(
        "/api/v1/members",
        json={"email": "same@example.com", "display_name": "A2"},
        headers=a.headers,
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "email"
    assert (
        b.post("/members", {"email": "same@example.com", "display_name": "B"})["email"]
        == "same@example.com"
    )


def test_reader_model_must_be_known_and_tamper_is_cleared_by_an_admin(client: TestClient) -> None:
    org = Org(client, "acme")
    ids = org.world()
    r = client.post(
        "/api/v1/readers",
        json={"door_id": ids["door"], "name": "X", "model": "acme_9000", "firmware": "1"},
        headers=org.headers,
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "model"
    r = client.post(f"/api/v1/readers/{ids['reader']}/clear-tamper", headers=org.headers)
    assert r.status_code == 200 and r.json()["tampered"] is False


def test_read_only_keys_read_but_cannot_change(client: TestClient) -> None:
    org = Org(client, "acme")
    created = client.post(
        "/api/v1/api_keys", json={"name": "auditor", "role": "read_only"}, headers=org.headers
    )
    assert created.status_code == 201
    ro = {"Authorization": f"Bearer {created.json()['token']}"}
    assert client.get("/api/v1/places", headers=ro).status_code == 200
    r = client.post("/api/v1/places", json={"name": "X"}, headers=ro)
    assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
    assert client.get("/api/v1/places", headers=org.headers).headers["X-Total-Count"] == "0"


def test_api_keys_are_shown_once_stored_hashed_and_revocable(
    client: TestClient, container: object
) -> None:
    org = Org(client, "acme")
    created = client.post("/api/v1/api_keys", json={"name": "ci"}, headers=org.headers).json()
    token = created["token"]
    listed = client.get("/api/v1/api_keys", headers=org.headers).json()
    assert all("token" not in k and "secret_hash" not in k for k in listed)
    import sqlalchemy as sa

    from passgate.adapters.db.tables import api_keys

    with container.engine.connect() as conn:  # type: ignore[attr-defined]
        stored = conn.execute(
            sa.select(api_keys.c.secret_hash).where(api_keys.c.id == created["id"])
        ).scalar_one()
    assert token.split(".", 1)[1] not in stored and len(stored) == 64

    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/places", headers=headers).status_code == 200
    assert (
        client.delete(f"/api/v1/api_keys/{created['id']}", headers=org.headers).status_code == 204
    )
    r = client.get("/api/v1/places", headers=headers)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"


def test_missing_or_wrong_credentials_are_refused(client: TestClient) -> None:
    Org(client, "acme")
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer key_" + "0" * 24 + ".x"},
    ):
        r = client.get("/api/v1/places", headers=headers)
        assert r.status_code == 401, headers
        assert r.json()["error"]["code"] == "unauthenticated"


def test_operator_only_routes_refuse_organization_keys(client: TestClient) -> None:
    org = Org(client, "acme")
    r = client.post("/api/v1/organizations", json={"name": "X", "slug": "x"}, headers=org.headers)
    assert r.status_code == 403
    assert (
        client.get("/api/v1/organizations", headers=operator_headers()).headers["X-Total-Count"]
        == "1"
    )


def test_subscription_makes_eligibility_reasons_change(client: TestClient) -> None:
    org = Org(client, "acme")
    view = client.get("/api/v1/organization", headers=org.headers).json()
    assert view["apple_pass_eligible"] is False
    assert "no_apple_pass_subscription" in view["eligibility_reasons"]
    r = client.post(
        f"/api/v1/organizations/{org.id}/subscriptions",
        json={
            "kind": "apple_pass",
            "valid_from": "2026-01-01T00:00:00Z",
            "valid_until": "2027-01-01T00:00:00Z",
        },
        headers=operator_headers(),
    )
    assert r.status_code == 201, r.text
    view = client.get("/api/v1/organization", headers=org.headers).json()
    assert "no_apple_pass_subscription" not in view["eligibility_reasons"]
    # SSO arrives with its own issue; until then no organization is eligible.
    assert (
        view["apple_pass_eligible"] is False and "sso_not_configured" in view["eligibility_reasons"]
    )
    subs = client.get("/api/v1/subscriptions", headers=org.headers).json()
    assert [s["kind"] for s in subs] == ["apple_pass"]
    r = client.patch(
        f"/api/v1/organizations/{org.id}/subscriptions/{subs[0]['id']}",
        json={"status": "cancelled"},
        headers=operator_headers(),
    )
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    view = client.get("/api/v1/organization", headers=org.headers).json()
    assert "subscription_not_active" in view["eligibility_reasons"]


def test_openapi_document_is_served(client: TestClient) -> None:
    doc = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/doors/{door_id}" in doc["paths"]
    assert doc["paths"]["/api/v1/doors"]["get"]["operationId"] == "list_doors"


def test_metrics_count_requests_by_route(client: TestClient) -> None:
    org = Org(client, "acme")
    client.get("/api/v1/places", headers=org.headers)
    text = client.get("/metrics").text
    assert (
        'passgate_http_requests_total{method="GET",route="/api/v1/places",status="200"} 1.0' in text
    )
