"""Schemathesis over the OpenAPI document (bounded): no 5xx, and every response matches the documented schema.

The schema is the app's own ``openapi()`` (built without a server, at collection time); every generated
case is sent over real HTTP to the API served by uvicorn on the real Redis twin.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import ApiEnv
from twin.api import create_app
from twin.store import TwinStore

# The document only: this app never serves a request (its store has no client).
schema = schemathesis.openapi.from_dict(create_app(TwinStore(None, "unused")).openapi())


def test_served_schema_is_the_one_tested(api_env: ApiEnv) -> None:
    served = httpx.get(api_env.url + "/openapi.json").json()
    assert served == schema.raw_schema
    assert httpx.get(api_env.url + "/docs").status_code == 200


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@pytest.mark.timeout(120)
def test_api_conforms_to_its_schema(case: Any, api_env: ApiEnv) -> None:
    case.call_and_validate(
        base_url=api_env.url,
        headers={"Authorization": f"Bearer {api_env.tokens['admin']}"},
        checks=[
            not_a_server_error,
            response_schema_conformance,
            status_code_conformance,
            content_type_conformance,
        ],
        timeout=30,
    )
