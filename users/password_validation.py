"""Password rules beyond Django's: a password must not be only whitespace.

Django's validators count characters: ten spaces pass the minimum length, are not in
the common-password list and are not numeric. Registered in ``AUTH_PASSWORD_VALIDATORS``
(settings ``integrations/security.py``), so registration, password change and reset
all apply it through ``validate_password``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError


class NotOnlyWhitespaceValidator:
    def validate(self, password: str, user: object = None) -> None:  # noqa: ARG002 - Django's validator API
        if not password.strip():
            raise ValidationError("The password cannot be only whitespace.", code="password_only_whitespace")

    def get_help_text(self) -> str:
        return "Your password cannot be only whitespace."
