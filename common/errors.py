"""The one application error type.

Services raise :class:`ApplicationError` (or a subclass); the API's single exception
handler (``common.api.exception_handler``) renders it in the documented error shape
with its HTTP status. Engines (pure numpy/cvxpy/torch code) raise their own domain
exceptions; services translate those into application errors.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A failure the caller can act on, with the HTTP status it maps to.

    ``code`` is a stable machine-readable string (``"insufficient_cash"``);
    ``field`` names the offending input field when there is one;
    ``extra`` carries the numbers behind the failure.
    """

    status_code = 400
    default_code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        status_code: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.field = field
        if status_code is not None:
            self.status_code = status_code
        self.extra = extra or {}


class ValidationFailed(ApplicationError):
    """Input that is well-formed but wrong (400)."""

    status_code = 400
    default_code = "invalid"


class NotFound(ApplicationError):
    """The object does not exist or belongs to someone else (404)."""

    status_code = 404
    default_code = "not_found"


class Conflict(ApplicationError):
    """The request conflicts with the object's current state (409)."""

    status_code = 409
    default_code = "conflict"


class Unprocessable(ApplicationError):
    """Valid input that cannot be satisfied, e.g. infeasible constraints (422)."""

    status_code = 422
    default_code = "unprocessable"


class PreconditionFailed(ApplicationError):
    """``If-Match`` names a version that is no longer current: someone changed it first (412)."""

    status_code = 412
    default_code = "precondition_failed"


class PreconditionRequired(ApplicationError):
    """The server requires ``If-Match`` on this edit and it is missing (428)."""

    status_code = 428
    default_code = "precondition_required"
