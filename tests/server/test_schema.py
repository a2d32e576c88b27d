"""Schemathesis against the served OpenAPI schema: no 5xx, and every answer matches the schema.

The project holds the wire examples and a few votes first, so the reads answer with real rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.postgres
EXAMPLES = [
    json.loads(line)
    for line in (Path(__file__).parents[1] / "fixtures" / "wire_examples.jsonl").read_text().splitlines()
]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.timeout(900)  # 62 operations x 100 examples: over the default 300 s on a loaded machine
def test_no_generated_request_gets_a_server_error_or_an_undeclared_answer(server_project):
    assert server_project.post(EXAMPLES).json()["stats"]["processed"] == len(EXAMPLES)
    schema = schemathesis.openapi.from_asgi("/openapi.json", server_project.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 62  # every endpoint, reviews and answers included
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def call(case):
            case.call_and_validate(headers=server_project.headers(), checks=CHECKS)

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
    dashboard = spec["paths"]["/api/analytics/dashboard"]["post"]
    assert dashboard["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/DashboardJson"
    )
    assert {"400", "401", "429"} <= set(dashboard["responses"])
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
