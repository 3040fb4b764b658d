"""API infrastructure shared by every app: the one error shape, pagination, schema helpers.

Every error the API returns has the shape (documented in the README and the schema)::

    {"type": "validation_error" | "client_error" | "server_error",
     "errors": [{"code": "<stable code>", "detail": "<human text>", "attr": "<field>" | null}]}

DRF's exceptions are formatted by drf-standardized-errors; our
:class:`common.errors.ApplicationError` is converted here so services never build responses.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse
from drf_standardized_errors.formatter import ExceptionFormatter
from drf_standardized_errors.handler import ExceptionHandler
from drf_standardized_errors.handler import exception_handler as _standard_handler
from drf_standardized_errors.types import CLIENT_ERROR, VALIDATION_ERROR, Error, ErrorResponse
from rest_framework import exceptions, serializers
from rest_framework.pagination import PageNumberPagination

from common.errors import ApplicationError, Unprocessable
from common.faults import DependencyUnavailable, dependency_down


class _ApplicationAPIException(exceptions.APIException):
    """Carries an :class:`ApplicationError` through DRF's exception machinery."""

    def __init__(self, error: ApplicationError) -> None:
        super().__init__(detail=error.message, code=error.code)
        self.status_code = error.status_code
        self.application_error = error


# Fields by which services name the object a URL points at (``portfolios/{id}``,
# ``.../proposals/{pid}``, ``market/data/{symbol}``, ``notifications/{id}``...).
PATH_OBJECT_FIELDS = frozenset({"id", "pk", "pid", "portfolio", "proposal", "symbol", "backtest_id", "device"})


def _names_a_path_object(error: ApplicationError, context: dict) -> bool:
    """Is this "not found" about an object named in the URL (a 404) or in the body (a 422)?"""
    if not (context.get("kwargs") or {}):
        return False
    return error.field is None or error.field in PATH_OBJECT_FIELDS


class Handler(ExceptionHandler):
    """The one place that turns any exception into the one error shape and its status.

    The rule it enforces (README, "One contract for errors"): 400 for input that is
    malformed whatever the server holds (types, ranges, choices, required fields, a
    combination the request alone contradicts); 422 for well-formed input the server's
    state or data cannot satisfy (an unknown symbol, too little cash, infeasible
    constraints); 404 only for the object a URL names (so a service's NotFound about a
    symbol in the body becomes a 422 with the same code); 401 for credentials, as one
    entry with a stable code.
    """

    def convert_known_exceptions(self, exc: Exception) -> Exception:
        if isinstance(exc, ApplicationError):
            if exc.status_code == 404 and not _names_a_path_object(exc, self.context):
                exc = Unprocessable(exc.message, code=exc.code, field=exc.field, extra=exc.extra)
            return _ApplicationAPIException(exc)
        if (dependency := dependency_down(exc)) is not None:  # database or Redis down: 503
            return DependencyUnavailable(dependency)
        if isinstance(exc, DjangoValidationError):
            detail: Any = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
            return exceptions.ValidationError(detail=detail)
        return super().convert_known_exceptions(exc)


def _one_credentials_error(exc: exceptions.APIException) -> Error:
    """simplejwt's errors carry ``{"detail", "code", "messages": [...]}``: one entry, its code."""
    detail = exc.detail
    if isinstance(detail, dict):
        code = str(detail.get("code") or exc.default_code)
        text = detail.get("detail") or exc.default_detail
        return Error(code=code, detail=str(text), attr=None)
    return Error(code=str(getattr(detail, "code", None) or exc.default_code), detail=str(detail), attr=None)


class ErrorFormatter(ExceptionFormatter):
    def run(self) -> Any:
        app_error = getattr(self.exc, "application_error", None)
        if app_error is not None:
            error_type = VALIDATION_ERROR if app_error.status_code == 400 else CLIENT_ERROR
            error = Error(code=app_error.code, detail=app_error.message, attr=app_error.field)
            return self.format_error_response(ErrorResponse(error_type, [error]))
        if isinstance(self.exc, exceptions.AuthenticationFailed | exceptions.NotAuthenticated):
            return self.format_error_response(ErrorResponse(CLIENT_ERROR, [_one_credentials_error(self.exc)]))
        return super().run()


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
    412: "`If-Match` names a version that is no longer current; read again and redo the edit.",
    422: "Valid input that cannot be satisfied (e.g. infeasible constraints, insufficient cash).",
    413: "The request body is larger than the API accepts.",
    414: "The URL is longer than the API accepts.",
    428: "This server requires `If-Match` on this edit (optional by default).",
    429: "Too many requests; see the `Retry-After` header.",
    503: "A dependency (database, cache or broker) is unavailable; retry after `Retry-After` seconds.",
}


# Serializer mixin: a key the serializer has no field for is a 400 naming it. DRF drops
# unknown keys silently, so a misspelt option (``kelly_fracton``) ran at its default; this
# names the key (``attr``) and the closest field (difflib); nested serializers that use the
# mixin report ``parent.key``. (A comment, not a docstring: drf-spectacular would publish a
# docstring as the description of every serializer that uses the mixin.)
class RejectUnknownFields:

    fields: Mapping[str, Any]

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            known = [name for name, f in self.fields.items() if not f.read_only]
            unknown = sorted(str(k) for k in data if k not in self.fields)
            if unknown:
                raise serializers.ValidationError(
                    {name: [_unknown_field(name, known)] for name in unknown}
                )
        return super().to_internal_value(data)  # type: ignore[misc]


def _unknown_field(name: str, known: list[str]) -> exceptions.ErrorDetail:
    found = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f" (did you mean {found[0]!r}?)" if found else ""
    return exceptions.ErrorDetail(f"unknown field {name!r}{hint}", code="unknown_field")


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """Schema entries for error statuses the standard hooks don't add (409, 422, 503...)."""
    return {
        code: OpenApiResponse(response=ErrorResponseSerializer, description=_DESCRIPTIONS.get(code, ""))
        for code in codes
    }


MONEY_PLACES = 4
MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)


def money_field(*, help_text: str = "", **kwargs: Any) -> serializers.DecimalField:
    """An amount of money in the API: a decimal string with 4 places, like the ledger.

    One field for every amount (balances, trade values, VaR in money...) so the app parses
    all of them the same way; ``money_quantize`` rounds a computed amount to it.
    """
    text = f"{help_text} Decimal string, {MONEY_PLACES} places.".strip()
    return serializers.DecimalField(max_digits=24, decimal_places=MONEY_PLACES, help_text=text, **kwargs)


def money_quantize(value: Decimal | float | None) -> Decimal | None:
    """``value`` rounded half-even to the API's money places (``None`` stays ``None``)."""
    if value is None:
        return None
    return Decimal(repr(value) if isinstance(value, float) else value).quantize(MONEY_QUANTUM)


MAX_PAGE_SIZE = 500


def _query_int(request: Any, name: str, *, default: int, maximum: int | None = None) -> int:
    """A strictly positive integer query parameter, or a 400 naming it (never silently capped)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise exceptions.ValidationError(
            {name: [exceptions.ErrorDetail(f"{name} must be a whole number.", code="invalid")]}
        ) from None
    if value < 1:
        raise exceptions.ValidationError(
            {name: [exceptions.ErrorDetail(f"{name} must be at least 1.", code="min_value")]}
        )
    if maximum is not None and value > maximum:
        raise exceptions.ValidationError(
            {name: [exceptions.ErrorDetail(f"{name} must be at most {maximum}.", code="max_value")]}
        )
    return value


class Pagination(PageNumberPagination):
    """``?page=&page_size=``: a bad or out-of-range value is a 400 naming the parameter.

    DRF's own answers a 404 to ``page=abc`` and silently caps ``page_size=100000`` (or
    ignores 0 and -5); the app could not tell its mistake from an empty list. A page past
    the last one is a 400 too (404 is only for objects named in the path).
    """

    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request: Any) -> int:
        return _query_int(request, self.page_size_query_param, default=self.page_size, maximum=self.max_page_size)

    def get_page_number(self, request: Any, paginator: Any) -> int:
        if request.query_params.get(self.page_query_param) in self.last_page_strings:
            return paginator.num_pages
        return _query_int(request, self.page_query_param, default=1)

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list | None:
        try:
            return super().paginate_queryset(queryset, request, view)
        except exceptions.NotFound:
            page = request.query_params.get(self.page_query_param)
            raise exceptions.ValidationError(
                {self.page_query_param: [exceptions.ErrorDetail(
                    f"page {page} is past the last page.", code="page_out_of_range"
                )]}
            ) from None

    def get_schema_operation_parameters(self, view: Any) -> list[dict]:  # noqa: ARG002 - DRF's hook
        return [
            {
                "name": self.page_query_param, "required": False, "in": "query",
                "description": "A page number within the paginated result set (from 1); past the last page is a 400.",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": self.page_size_query_param, "required": False, "in": "query",
                "description": f"Results per page (1 to {self.max_page_size}; default {self.page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]
