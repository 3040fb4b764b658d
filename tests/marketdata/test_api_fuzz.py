"""Fuzz the market operations with data in the database (the project-wide fuzz runs on
an empty one, where market/data only ever answers 404)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
OPERATIONS = ["/api/v1/market/assets", "/api/v1/market/data/{symbol}"]


@pytest.mark.parametrize("path", OPERATIONS)
def test_market_operations_conform_with_data(priced, investor, path):
    # given
    from django.core.wsgi import get_wsgi_application
    from rest_framework_simplejwt.tokens import RefreshToken

    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())
    operation = schema[path]["GET"]
    headers = {"Authorization": f"Bearer {RefreshToken.for_user(investor).access_token}"}

    @given(data=st.data())
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def fuzz(data):
        case = data.draw(operation.as_strategy())
        if case.path_parameters and data.draw(st.booleans()):
            case.path_parameters["symbol"] = data.draw(st.sampled_from(["AAA", "BBB", "CCC"]))
        # when / then
        case.call_and_validate(headers=headers, checks=CHECKS)

    fuzz()
