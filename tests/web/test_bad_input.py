"""Bad input on every endpoint gets a 4xx naming the field, and changes nothing.

Cases are generated from the OpenAPI document: for each operation with a body,
each property gets a value of the wrong type, an over-long value where a
maximum length is declared, an out-of-range number where a range is declared;
and each body gets an unknown field and a missing required field.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient
from tests.conftest import Org, operator_headers
from tests.passes.helpers import app_headers

WRONG_TYPE: dict[str, Any] = {
    "string": 12345,
    "integer": "twelve",
    "boolean": "yes",
    "array": "not-a-list",
    "object": 7,
}

VALID: dict[str, dict[str, Any]] = {
    "create_place": {"name": "P"},
    "create_schedule": {"name": "S", "windows": []},
    "create_door": {"place_id": "@place", "name": "D"},
    "create_reader": {"door_id": "@door", "name": "R", "model": "reader_pro_2_1", "firmware": "1"},
    "create_group": {"name": "G"},
    "create_member": {"email": "x@example.com", "display_name": "X"},
    "create_access_right": {"member_id": "@member", "group_id": "@group"},
    "create_api_key": {"name": "k"},
    "create_webhook": {"url": "https://example.com/hook"},
    "set_group_doors": {"door_ids": []},
    "set_place_lockdown": {"lockdown": True},
    "create_organization": {"name": "O", "slug": "o"},
    "grant_subscription": {"valid_from": "2026-01-01T00:00:00Z"},
    "create_org_api_key": {"name": "k"},
    "app_token": {"code": "c", "code_verifier": "v" * 43, "redirect_uri": "passgate://x"},
    "put_sso_connection": {"protocol": "oidc"},
    "pair_reader": {
        "code": "AAAA-BBBB-CCCC",
        "public_key": "-----BEGIN PUBLIC KEY-----",
        "aliro_public_key": "04" + "0" * 128,
    },
    "register_app_credential": {"public_key": "04" + "0" * 128, "device_id": "d"},
    "patch_sso_settings": {},
    "operator_put_sso_connection": {"protocol": "oidc"},
    "operator_patch_sso_settings": {},
    "provision_apple_pass": {
        "iphone": {
            "device_id": "d",
            "model": "m",
            "ios_version": "17.0",
            "app_version": "46.0",
            "public_key": "04" + "0" * 128,
        }
    },
}


def _resolve(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _variants(prop: dict[str, Any], doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The concrete schemas a property accepts (anyOf unwrapped, null dropped)."""
    prop = _resolve(prop, doc)
    options = prop.get("anyOf", [prop])
    return [_resolve(o, doc) for o in options if o.get("type") != "null"]


def _cases(
    body_schema: dict[str, Any], valid: dict[str, Any], doc: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any]]]:
    yield "unknown field", {**valid, "no_such_field": 1}
    for name in body_schema.get("required", []):
        yield f"missing {name}", {k: v for k, v in valid.items() if k != name}
    for name, prop in body_schema.get("properties", {}).items():
        for variant in _variants(prop, doc):
            kind = variant.get("type")
            if kind in WRONG_TYPE:
                yield f"{name} wrong type", {**valid, name: WRONG_TYPE[kind]}
            if kind == "string" and "maxLength" in variant:
                yield f"{name} too long", {**valid, name: "x" * (variant["maxLength"] + 1)}
            if kind == "integer" and "maximum" in variant:
                yield f"{name} too big", {**valid, name: variant["maximum"] + 1}
            if kind == "integer" and "minimum" in variant:
                yield f"{name} too small", {**valid, name: variant["minimum"] - 1}
            if kind == "array" and "maxItems" in variant:
                item = (
                    1 if _resolve(variant.get("items", {}), doc).get("type") == "integer" else "x"
                )
                yield f"{name} too many items", {**valid, name: [item] * (variant["maxItems"] + 1)}


def _state(client: TestClient, org: Org) -> tuple[Any, ...]:
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
    counts = tuple(
        client.get(f"/api/v1/{k}", headers=org.headers).headers["X-Total-Count"] for k in kinds
    )
    events = client.get("/api/v1/events", headers=org.headers).headers["X-Total-Count"]
    orgs = client.get("/api/v1/organizations", headers=operator_headers()).headers["X-Total-Count"]
    return counts, events, orgs


def test_every_body_field_rejects_bad_values_with_a_named_field_and_no_change(
    client: TestClient,
) -> None:
    org = Org(client, "acme")
    ids = org.world()
    doc = client.get("/api/v1/openapi.json").json()
    member = app_headers(client, org.id, ids["member"])
    before = _state(client, org)
    checked = 0
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            content = op.get("requestBody", {}).get("content", {}).get("application/json")
            if content is None:
                continue
            schema = _resolve(content["schema"], doc)
            op_id = op["operationId"]
            valid = {
                k: (ids[v[1:]] if isinstance(v, str) and v.startswith("@") else v)
                for k, v in VALID.get(op_id, {}).items()
            }
            url = path
            for p in op.get("parameters", []):
                if p["in"] == "path":
                    kind = {"org_id": "org", "subscription_id": "subscription"}.get(
                        p["name"], p["name"][:-3]
                    )
                    url = url.replace("{" + p["name"] + "}", ids.get(kind, "sub_" + "0" * 24))
            headers = (
                operator_headers() if path.startswith("/api/v1/organizations") else org.headers
            )
            if path.startswith("/api/v1/me/"):
                headers = member  # a member's own operation
            for label, body in _cases(schema, valid, doc):
                r = client.request(method.upper(), url, json=body, headers=headers)
                assert 400 <= r.status_code < 500, (op_id, label, r.status_code, r.text)
                if r.status_code == 404:
                    continue  # PATCH on a fake subscription id: nothing to validate against
                error = r.json()["error"]
                assert error["code"] and error["message"], (op_id, label)
                if label != "unknown field" and not label.startswith("missing"):
                    assert (
                        error["field"]
                        and error["field"].split("[")[0].split(".")[0] == label.split()[0]
                    ), (
                        op_id,
                        label,
                        error,
                    )
                checked += 1
    assert checked > 100
    assert _state(client, org) == before


def test_malformed_json_is_a_400_that_says_so(client: TestClient) -> None:
    org = Org(client, "acme")
    r = client.post(
        "/api/v1/places",
        content=b"{not json",
        headers={**org.headers, "Content-Type": "application/json"},
    )
    assert r.status_code in (400, 422)
    assert r.json()["error"]["code"] in ("malformed_json", "validation_error")


def test_bad_query_parameters_are_422_with_the_parameter_named(client: TestClient) -> None:
    org = Org(client, "acme")
    for query, field in (
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("offset=-1", "offset"),
        ("limit=abc", "limit"),
    ):
        r = client.get(f"/api/v1/places?{query}", headers=org.headers)
        assert r.status_code == 422 and r.json()["error"]["field"] == field, query
    r = client.get("/api/v1/events?since=2026-01-01T00:00:00", headers=org.headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "since"
