"""Schemathesis against the served OpenAPI schema: no generated request makes the server answer 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

pytestmark = pytest.mark.postgres


def test_no_generated_request_gets_a_server_error(server_project):
    schema = schemathesis.openapi.from_asgi("/openapi.json", server_project.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 6
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def call(case):
            case.call_and_validate(headers=server_project.headers(), checks=[not_a_server_error])

        call()


def test_schema_declares_the_reply_models(server_project):
    spec = server_project.client.get("/openapi.json").json()
    post = spec["paths"]["/api/events"]["post"]
    assert post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/IngestReply")
    assert {"401", "413", "429"} <= set(post["responses"])
    assert "WireEvent" in spec["components"]["schemas"]
    assert spec["paths"]["/api/stats"]["get"]["responses"]["200"]["content"]["application/json"]["schema"][
        "$ref"
    ].endswith("/Stats")
