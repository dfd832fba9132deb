"""The OpenAPI document is complete: every operation, field and parameter described, the
security schemes and roles stated, examples valid, list headers and webhooks documented.

A new endpoint without a description (in its route, or in web/openapi.py) fails here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel
from tests.conftest import Org

from passgate.domain import model as m
from passgate.services import authz
from passgate.services.events import event_payload
from passgate.web.openapi import WebhookEvent

METHODS = {"get", "put", "post", "patch", "delete", "head", "options"}


@pytest.fixture
def doc(client: TestClient) -> dict[str, Any]:
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    data: dict[str, Any] = r.json()
    return data


def _operations(doc: dict[str, Any], section: str = "paths") -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", op)
        for path, item in doc.get(section, {}).items()
        for method, op in item.items()
        if method in METHODS
    ]


def test_every_operation_has_a_summary_and_a_description(doc: dict[str, Any]) -> None:
    ops = _operations(doc) + _operations(doc, "webhooks")
    assert len(ops) > 80
    missing = [name for name, op in ops if not op.get("summary") or not op.get("description")]
    assert missing == [], (
        f"describe these operations (route docstring or web/openapi.py): {missing}"
    )


def test_every_field_and_parameter_has_a_description(doc: dict[str, Any]) -> None:
    fields = [
        f"{schema_name}.{field}"
        for schema_name, schema in doc["components"]["schemas"].items()
        for field, prop in (schema.get("properties") or {}).items()
        if not prop.get("description")
    ]
    assert fields == [], f"describe these fields (Field(description=) or web/openapi.py): {fields}"
    parameters = [
        f"{name} {p['in']} {p['name']}"
        for name, op in _operations(doc)
        for p in op.get("parameters", [])
        if not p.get("description")
    ]
    assert parameters == [], parameters


def test_bearer_and_session_cookie_schemes_and_public_operations(doc: dict[str, Any]) -> None:
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"]["type"] == "http" and schemes["bearer"]["scheme"] == "bearer"
    assert schemes["session_cookie"] == {
        **schemes["session_cookie"],
        "type": "apiKey",
        "in": "cookie",
        "name": "passgate_session",
    }
    assert doc["security"] == [{"bearer": []}, {"session_cookie": []}]
    public = {op["operationId"] for _, op in _operations(doc) if op.get("security") == []}
    assert public == set(authz.PUBLIC)


def test_each_operation_states_the_roles_of_the_role_table(doc: dict[str, Any]) -> None:
    for name, op in _operations(doc):
        operation_id = op["operationId"]
        if operation_id in authz.PUBLIC:
            assert op["x-passgate-roles"] == [], name
            assert "No credentials" in op["description"], name
            continue
        declared = {str(p) for p in authz.POLICY[operation_id].principals}
        assert set(op["x-passgate-roles"]) == declared, name
        assert "Who may call it:" in op["description"], name


def _models_named(names: set[str]) -> dict[str, type[BaseModel]]:
    """The pydantic models behind the named schemas (the app is built, so all loaded)."""
    found: dict[str, list[type[BaseModel]]] = {}
    stack: list[type[BaseModel]] = [BaseModel]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__name__ in names and cls.__module__.startswith("passgate."):
            found.setdefault(cls.__name__, []).append(cls)
    assert all(len(v) == 1 for v in found.values()), found
    return {name: classes[0] for name, classes in found.items()}


def test_every_request_body_has_an_example_that_its_model_accepts(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    referenced = set()
    for name, op in _operations(doc):
        for content in op.get("requestBody", {}).get("content", {}).values():
            ref = content["schema"].get("$ref", "")
            assert ref.startswith("#/components/schemas/"), name
            referenced.add(ref.rsplit("/", 1)[1])
    assert len(referenced) > 20
    models = _models_named(referenced)
    for schema_name in sorted(referenced):
        examples = schemas[schema_name].get("examples")
        assert examples, f"{schema_name} has no example (web/openapi.py EXAMPLES)"
        for example in examples:
            models[schema_name].model_validate(example)  # raises if the example is wrong


def test_list_responses_document_and_send_x_total_count(
    client: TestClient, doc: dict[str, Any]
) -> None:
    lists = [
        (name, op)
        for name, op in _operations(doc)
        if op["responses"]
        .get("200", {})
        .get("content", {})
        .get("application/json", {})
        .get("schema", {})
        .get("type")
        == "array"
    ]
    assert len(lists) > 10
    for name, op in lists:
        header = op["responses"]["200"].get("headers", {}).get("X-Total-Count")
        assert header and header["schema"]["type"] == "integer", name
    org = Org(client, "acme")
    org.post("/places", {"name": "HQ"})
    r = client.get("/api/v1/places", headers=org.headers)
    assert r.headers["X-Total-Count"] == "1"


def test_the_webhook_payload_schema_is_what_deliveries_carry(doc: dict[str, Any]) -> None:
    hook = doc["webhooks"]["event"]["post"]
    ref = hook["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    at = datetime(2026, 1, 1, tzinfo=UTC)
    event = m.Event(
        id="evt_1", org_id="org_1", category="access", type="access.granted",
        idempotency_key="k", occurred_at=at, recorded_at=at, granted=True,
    )  # fmt: skip
    payload = event_payload(event)
    assert set(schema["properties"]) == set(payload)
    WebhookEvent.model_validate(payload)
    assert "Passgate-Signature" in hook["description"] and hook["security"] == []


def test_no_generated_names_or_fastapi_validation_bodies(doc: dict[str, Any]) -> None:
    names = list(doc["components"]["schemas"])
    generated = [n for n in names if n.startswith("Body_") or n.endswith(("_Input", "_Output"))]
    assert generated == []
    assert all(re.fullmatch(r"[A-Z][A-Za-z0-9]+", n) for n in names), names
    assert "HTTPValidationError" not in names
    for name, op in _operations(doc):
        if "422" in op["responses"]:
            ref = op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorBody"), name


def test_summaries_read_as_english(doc: dict[str, Any]) -> None:
    summaries = [op["summary"] for _, op in _operations(doc)]
    # "a access right", "a event": the generated summaries once read like that.
    wrong = [s for s in summaries if re.search(r"\b[Aa] (?!one\b)[aeio]", s)]
    assert wrong == []
    assert "Create an access right" in summaries


def test_a_real_validation_error_is_an_error_body(client: TestClient) -> None:
    org = Org(client, "acme")
    r = client.post("/api/v1/places", json={"name": ""}, headers=org.headers)
    assert r.status_code == 422
    assert set(r.json()) == {"error"} and r.json()["error"]["field"] == "name"


def test_not_found_names_the_kind_in_english(client: TestClient) -> None:
    org = Org(client, "acme")
    r = client.get(f"/api/v1/apple_passes/pass_{'0' * 24}", headers=org.headers)
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "apple pass not found"
