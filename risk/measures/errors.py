"""Exceptions of the risk engine; services translate them into application errors."""

from __future__ import annotations

from typing import Any


class RiskInputError(ValueError):
    """Inputs the engine cannot use (too few observations, unknown symbols, bad levels).

    ``field`` names the offending argument so that the API can point at it;
    ``extra`` carries the numbers (e.g. the missing symbols).
    """

    def __init__(self, message: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra
