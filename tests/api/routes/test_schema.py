"""Schemathesis against the OpenAPI schema: no 5xx for generated requests, for an analyst and a
licensing officer (sqlite store; a handful of examples per operation to keep the suite fast)."""
import pytest

import schemathesis  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)   # the schema is the same on both
@pytest.mark.parametrize("role", ["analyst", "licensing_officer"])
def test_no_server_errors(app, tokens, store, role):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {tokens[role]}"}
    failures = []
    for op in schema.get_all_operations():
        operation = op.ok()
        if operation.path in ("/auth/token", "/auth/refresh"):   # refresh would revoke the
            continue                                             # session's token (own tests)

        @settings(max_examples=5, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case):
            r = case.call(headers=headers)
            if r.status_code >= 500:
                failures.append((case.method, case.formatted_path, case.query, r.status_code))
        run()
    assert failures == []
