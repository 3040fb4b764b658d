"""Fuzz every operation of the OpenAPI schema in process, authenticated as an investor.

Every endpoint a later issue adds is fuzzed from its first day: no 5xx, every
response conforms to its documented schema, and undocumented status codes fail.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.cache import cache
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.checks import response_headers_conformance

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def _load_schema():
    # pytest-django has configured Django before collection; the schema view needs no DB.
    from django.core.wsgi import get_wsgi_application

    return schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())


schema = _load_schema()


@pytest.fixture
def fuzz_auth(db, investor):
    from rest_framework_simplejwt.tokens import RefreshToken

    return {"Authorization": f"Bearer {RefreshToken.for_user(investor).access_token}"}


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_conforms_and_never_fails(case, fuzz_auth):
    # Throttles would turn the rest of a run into 429s; they are tested on their own.
    cache.clear()
    case.call_and_validate(headers=fuzz_auth, checks=CHECKS)
