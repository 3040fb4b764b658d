"""drf-spectacular hooks that keep the schema a contract every client generator accepts.

Issue 17 measured the document with openapi-spec-validator, openapi-python-client and
openapi-generator (dart, dart-dio); ``scripts/check_api_clients.py`` repeats that in
``make test``. These hooks fix what drf-spectacular's defaults get wrong for them.
"""

from __future__ import annotations

from typing import Any

from drf_standardized_errors.openapi import AutoSchema

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def postprocess_anonymous_operations(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """Declare anonymous operations (login, refresh, register, password reset...) anonymous.

    drf-spectacular marks a view with ``AllowAny`` and no authentication as ``security:
    [{}]`` ("authentication optional"); generated clients then still attach, or demand, a
    bearer token. ``security: []`` says plainly that none is needed.
    """
    for operations in result.get("paths", {}).values():
        for method in HTTP_METHODS:
            operation = operations.get(method)
            if operation is None:
                continue
            security = operation.get("security")
            if security is None or all(requirement == {} for requirement in security):
                operation["security"] = []
    return result


def postprocess_etag_headers(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """Document the ``ETag`` header on the 2xx responses of operations marked ``x-etag``."""
    header = {
        "ETag": {
            "schema": {"type": "string"},
            "description": "Version of the editable state; send it back as `If-Match` to edit safely.",
        }
    }
    for operations in result.get("paths", {}).values():
        for method in HTTP_METHODS:
            operation = operations.get(method)
            if operation is None or not operation.pop("x-etag", False):
                continue
            for status, response in operation.get("responses", {}).items():
                if str(status).startswith("2"):
                    response.setdefault("headers", {}).update(header)
    return result


def postprocess_cached_read_headers(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """Document the ``ETag`` header on the 200 of operations marked ``x-cached-read``
    (``common.read_cache``: send it back as ``If-None-Match`` for a 304)."""
    header = {
        "ETag": {
            "schema": {"type": "string"},
            "description": "Version of this answer; send it back as `If-None-Match` to get 304 while it holds.",
        }
    }
    for operations in result.get("paths", {}).values():
        for method in HTTP_METHODS:
            operation = operations.get(method)
            if operation is None or not operation.pop("x-cached-read", False):
                continue
            response = operation.get("responses", {}).get("200")
            if response is not None:
                response.setdefault("headers", {}).update(header)
    return result


class DeleteWithBodySchema(AutoSchema):
    """Documents the request body of a DELETE (drf-spectacular documents bodies of PUT, PATCH
    and POST only). ``DELETE users/me`` takes the password and ``liquidate`` in its body."""

    def _get_request_body(self, direction: str = "request") -> Any:
        if self.method != "DELETE":
            return super()._get_request_body(direction)
        self.method = "POST"
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"
