"""The account emails: rendered from ``templates/emails/<name>{_subject.txt,.txt,.html}`` and
sent through Django's email backend by a Celery task after the transaction commits."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from users.models import User


class EmailVerificationTokenGenerator(PasswordResetTokenGenerator):
    """One-time tokens for "this address is mine": void once verified or when it changes."""

    key_salt = "users.emails.EmailVerificationTokenGenerator"

    def _make_hash_value(self, user: User, timestamp: int) -> str:  # type: ignore[override]
        return f"{user.pk}{user.email}{user.pending_email}{user.email_verified}{timestamp}"


email_verification_token_generator = EmailVerificationTokenGenerator()
password_reset_token_generator = default_token_generator  # void once the password changes


def uid_of(user: User) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


def account_link(page: str, **query: str) -> str:
    """``{ACCOUNT_LINK_BASE_URL}/{page}?uid=..&token=..`` (the app opens it)."""
    return f"{settings.ACCOUNT_LINK_BASE_URL.rstrip('/')}/{page}?{urlencode(query)}"


def _valid_days() -> int:
    return max(1, round(settings.PASSWORD_RESET_TIMEOUT / 86400))


def email_render(*, template: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of ``templates/emails/<template>``."""
    context = {"valid_days": _valid_days(), **context}
    subject = " ".join(render_to_string(f"emails/{template}_subject.txt", context).split())
    return subject, render_to_string(f"emails/{template}.txt", context), render_to_string(
        f"emails/{template}.html", context
    )


def email_deliver(*, template: str, to: str, context: dict[str, Any]) -> None:
    """Render and send now (the Celery task's body)."""
    subject, text, html = email_render(template=template, context=context)
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [to])
    message.attach_alternative(html, "text/html")
    message.send()


def email_send(*, template: str, to: str, context: dict[str, Any]) -> None:
    """Send after the current transaction commits, on a worker (in process without a broker)."""
    from users.tasks import email_send_task

    transaction.on_commit(lambda: email_send_task.delay(template=template, to=to, context=context))


def password_reset_email_send(*, user: User) -> None:
    token = password_reset_token_generator.make_token(user)
    email_send(template="password_reset", to=user.email, context={
        "first_name": user.first_name, "link": account_link("reset-password", uid=uid_of(user), token=token),
    })


def verification_email_send(*, user: User) -> None:
    """Ask the owner of ``user.pending_email`` (or, when none, ``user.email``) to confirm it."""
    address = user.pending_email or user.email
    token = email_verification_token_generator.make_token(user)
    email_send(template="email_verify", to=address, context={
        "first_name": user.first_name, "email": address,
        "link": account_link("verify-email", uid=uid_of(user), token=token),
    })


def account_exists_email_send(*, email: str, action: str) -> None:
    """Tell the owner of ``email`` that someone tried to use it (instead of telling the requester)."""
    email_send(template="account_exists", to=email, context={
        "email": email, "action": action, "reset_link": account_link("forgot-password"),
    })
