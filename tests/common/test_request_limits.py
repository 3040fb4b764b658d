"""Bad input is never a 500: oversized bodies 413, long URLs 414, deep JSON 400 — in the one
error shape, before authentication — and the security headers on every response."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from common.middleware import json_depth

pytestmark = pytest.mark.django_db
LOGIN = "/api/v1/auth/token"


def _error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"type", "errors"}
    assert body["errors"] and all(set(e) == {"code", "detail", "attr"} for e in body["errors"])
    return body["errors"][0]


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (b"{}", 1),
        (b'{"a": [1, {"b": [2]}]}', 4),
        (b'"[[[[[["', 0),  # brackets inside a string do not count
        (b'{"a": "x\\"[[[[", "b": [[1]]}', 3),  # nor after an escaped quote
        (b"1", 0),
        (b"[" * 5000, 5000),  # unterminated: still measured, the parser reports the rest
        (b"[]" * 1000, 1),
    ],
)
def test_json_depth(text, depth):
    assert json_depth(text) == depth


def test_json_depth_agrees_with_a_recursive_count():
    def depth(value) -> int:
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
        return 1 + max((depth(c) for c in children), default=0) if isinstance(value, dict | list) else 0

    doc = {"a": [{"b": [[1, 2], {"c": "[{"}]}], "d": {"e": {"f": []}}}
    assert json_depth(json.dumps(doc).encode()) == depth(doc) == 5


@pytest.mark.parametrize("path", [LOGIN, "/api/v1/auth/register", "/api/v1/auth/token/refresh", "/api/v1/portfolios"])
def test_deep_json_is_400_before_authentication(path):
    body = "[" * 1000 + "]" * 1000
    response = APIClient().generic("POST", path, body, content_type="application/json")
    assert response.status_code == 400
    error = _error_of(response)
    assert error["code"] == "json_too_deep"
    assert response.json()["type"] == "validation_error"


def test_json_at_the_depth_limit_is_parsed_normally(settings):
    settings.API_MAX_JSON_DEPTH = 3
    ok = APIClient().generic("POST", LOGIN, json.dumps({"email": [[1]]}), content_type="application/json")
    deep = APIClient().generic("POST", LOGIN, json.dumps({"email": [[[1]]]}), content_type="application/json")
    assert ok.status_code == 400 and "email" in [e["attr"] for e in ok.json()["errors"]]
    assert deep.status_code == 400 and _error_of(deep)["code"] == "json_too_deep"


@pytest.mark.parametrize("path", [LOGIN, "/api/v1/auth/register", "/api/v1/portfolios"])
def test_a_body_over_the_limit_is_413_and_not_read(path, settings):
    settings.API_MAX_BODY_BYTES = 1000
    body = json.dumps({"email": "a@b.co", "password": "x" * 2000})
    response = APIClient().generic("POST", path, body, content_type="application/json")
    assert response.status_code == 413
    assert _error_of(response)["code"] == "request_too_large"


def test_a_body_of_three_megabytes_is_413_with_the_default_limit():
    response = APIClient().generic("POST", LOGIN, b'{"a": "' + b"x" * 3_000_000 + b'"}', content_type="application/json")
    assert response.status_code == 413


def test_a_long_url_is_414(investor_client):
    response = investor_client.get("/api/v1/portfolios?x=" + "a" * 5000)
    assert response.status_code == 414
    assert _error_of(response)["code"] == "uri_too_long"


def test_admin_gets_plain_text_limits(client, settings):
    settings.API_MAX_BODY_BYTES = 10
    response = client.post("/admin/login/", {"username": "a" * 50, "password": "b"})
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/plain")


def test_security_headers_on_api_and_admin(client, investor_client):
    api = investor_client.get("/api/v1/portfolios")
    admin = client.get("/admin/login/")
    for response in (api, admin):
        csp = response["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert "camera=()" in response["Permissions-Policy"]
    assert api["Cache-Control"] == "no-store"


def test_swagger_ui_needs_no_inline_script(client):
    html = client.get("/api/v1/docs/").content.decode()
    assert "<script>" not in html  # the split view loads its script from ?script, under CSP script-src 'self'
    assert client.get("/api/v1/docs/?script=").status_code == 200
