"""Property-based run of schemathesis against the service's own OpenAPI schema.

For every operation and both generation modes (valid and invalid data), schemathesis
generates requests from the schema, bounded to a few examples each to stay fast, and the
checks assert that the service never fails with a 5xx, answers only documented status
codes and content types, and that every response body matches its documented schema.
(The strategies are driven with Hypothesis directly: schemathesis' lazy pytest fixture
loader does not work with this pytest version.)
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import AUTH

#: operations without parameters or body: there is no invalid input to generate
NO_INPUT = {"GET /health", "GET /model"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 8


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_api_conforms_to_its_schema(make_client: Any, sqlite_url: str, mode: GenerationMode) -> None:
    client = make_client(sqlite_url)
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 7
    seen: dict[str, set[int]] = {}
    expected = {f"{o.method.upper()} {o.path}" for o in operations}
    if mode == GenerationMode.NEGATIVE:
        expected -= NO_INPUT
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        if label not in expected:
            continue

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            response = case.call(headers=AUTH)
            seen.setdefault(f"{case.method.upper()} {case.path}", set()).add(response.status_code)
            case.validate_response(response, checks=CHECKS)

        run()
    assert set(seen) == expected
    assert all(code < 500 or code == 503 for codes in seen.values() for code in codes)
