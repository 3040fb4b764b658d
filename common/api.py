"""API infrastructure shared by every app: the one error shape, pagination, schema helpers.

Every error the API returns has the shape (documented in the README and the schema)::

    {"type": "validation_error" | "client_error" | "server_error",
     "errors": [{"code": "<stable code>", "detail": "<human text>", "attr": "<field>" | null}]}

DRF's exceptions are formatted by drf-standardized-errors; our
:class:`common.errors.ApplicationError` is converted here so services never build responses.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse
from drf_standardized_errors.formatter import ExceptionFormatter
from drf_standardized_errors.handler import ExceptionHandler
from drf_standardized_errors.handler import exception_handler as _standard_handler
from drf_standardized_errors.types import CLIENT_ERROR, VALIDATION_ERROR, Error, ErrorResponse
from rest_framework import exceptions, serializers
from rest_framework.pagination import PageNumberPagination

from common.errors import ApplicationError
from common.faults import DependencyUnavailable, dependency_down


class _ApplicationAPIException(exceptions.APIException):
    """Carries an :class:`ApplicationError` through DRF's exception machinery."""

    def __init__(self, error: ApplicationError) -> None:
        super().__init__(detail=error.message, code=error.code)
        self.status_code = error.status_code
        self.application_error = error


class Handler(ExceptionHandler):
    def convert_known_exceptions(self, exc: Exception) -> Exception:
        if isinstance(exc, ApplicationError):
            return _ApplicationAPIException(exc)
        if (dependency := dependency_down(exc)) is not None:  # database or Redis down: 503
            return DependencyUnavailable(dependency)
        if isinstance(exc, DjangoValidationError):
            detail: Any = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
            return exceptions.ValidationError(detail=detail)
        return super().convert_known_exceptions(exc)


class ErrorFormatter(ExceptionFormatter):
    def run(self) -> Any:
        app_error = getattr(self.exc, "application_error", None)
        if app_error is None:
            return super().run()
        error_type = VALIDATION_ERROR if app_error.status_code == 400 else CLIENT_ERROR
        error = Error(code=app_error.code, detail=app_error.message, attr=app_error.field)
        return self.format_error_response(ErrorResponse(error_type, [error]))


# DRF's EXCEPTION_HANDLER stays drf-standardized-errors' own function (its AutoSchema adds
# error responses only to views using it); DRF_STANDARDIZED_ERRORS points it at Handler.
exception_handler = _standard_handler


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. `not_found`.")
    detail = serializers.CharField(help_text="Human-readable message.")
    attr = serializers.CharField(
        allow_null=True, help_text="The offending field (dotted path), or null."
    )


class ErrorResponseSerializer(serializers.Serializer):
    """The one error shape of every error response."""

    type = serializers.ChoiceField(choices=["validation_error", "client_error", "server_error"])
    errors = ErrorSerializer(many=True)


_DESCRIPTIONS = {
    400: "Invalid input; `attr` names the field.",
    401: "Missing, invalid or expired credentials.",
    403: "Not allowed.",
    404: "Not found (or not yours).",
    409: "Conflicts with the current state (e.g. already executed or stale).",
    422: "Valid input that cannot be satisfied (e.g. infeasible constraints, insufficient cash).",
    413: "The request body is larger than the API accepts.",
    414: "The URL is longer than the API accepts.",
    429: "Too many requests; see the `Retry-After` header.",
    503: "A dependency (database, cache or broker) is unavailable; retry after `Retry-After` seconds.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """Schema entries for error statuses the standard hooks don't add (409, 422, 503...)."""
    return {
        code: OpenApiResponse(response=ErrorResponseSerializer, description=_DESCRIPTIONS.get(code, ""))
        for code in codes
    }


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500
