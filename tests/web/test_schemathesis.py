"""Property-based API testing with schemathesis: no input may cause a server error.

Every operation of the OpenAPI document is fed generated requests (valid and
invalid), authenticated as an organization admin or as the operator; each
response must not be a 5xx and must match the documented schema.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance
from tests.conftest import Org, operator_headers

EXAMPLES = int(os.environ.get("PASSGATE_SCHEMATHESIS_EXAMPLES", "20"))


def test_generated_requests_never_cause_a_server_error(client: TestClient) -> None:
    org = Org(client, "acme")
    org.world()
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) > 30
    for operation in operations:
        admin = operation.path.startswith("/api/v1/organizations")
        _fuzz(operation, operator_headers() if admin else org.headers)


def _fuzz(
    operation: schemathesis.APIOperation[Any, Any, Any, Any], headers: dict[str, str]
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def check(case: schemathesis.Case[Any]) -> None:
        response = case.call(headers=headers)
        case.validate_response(
            response, checks=[not_a_server_error, response_schema_conformance], headers=headers
        )

    check()
