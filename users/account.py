"""The investor's account lifecycle: registration that reveals nothing, password change and
reset, email verification and change, data export, and closing the account.

No answer tells whether an email has an account: registering a taken address answers like
a new one (the owner gets an email instead), a reset request is always accepted, an email
change to a taken address looks pending (its owner is told). Emails are compared without
case everywhere (``User.objects.get_by_natural_key`` for login, ``email__iexact`` here, a
unique index on ``lower(email)``).

The users app is the base layer: the data other apps hold about an investor (portfolios
and their ledger, notifications, backtests) is exported and closed by the modules listed in
``settings.ACCOUNT_DATA_MODULES``, each with ``account_export(*, user) -> dict`` and
``account_close(*, user, liquidate) -> list[dict]`` (a summary line per thing closed).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from common.errors import ValidationFailed
from users import emails
from users.models import InvestorProfile, User
from users.services import _assess, user_register

DELETED_EMAIL_DOMAIN = "deleted.invalid"  # RFC 2606: can never receive mail


def _password_check(password: str, *, user: User, field: str) -> None:
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise ValidationFailed(" ".join(exc.messages), field=field, code="password_too_weak") from exc


def _normalized(email: str) -> str:
    return User.objects.normalize_email(email).strip().lower()


def registration_submit(
    *, email: str, password: str, profile: dict[str, Any], first_name: str = "", last_name: str = ""
) -> User | None:
    """Register, or, when ``email`` has an account, tell its owner; the caller answers the same.

    Invalid input (a weak password, a bad questionnaire answer) is a 400 either way, checked
    before the address is looked up. Returns the new user, or ``None`` for a taken address.
    """
    email = _normalized(email)
    _password_check(password, user=User(email=email, first_name=first_name, last_name=last_name), field="password")
    _assess(profile)
    if User.objects.filter(email__iexact=email).exists():
        make_password(password)  # the same work as creating the account, so timing tells nothing
        emails.account_exists_email_send(email=email, action="create an account")
        return None
    try:
        user = user_register(email=email, password=password, profile=profile, first_name=first_name,
                             last_name=last_name)
    except ValidationFailed as exc:
        if exc.code != "unique":
            raise
        emails.account_exists_email_send(email=email, action="create an account")  # lost a race
        return None
    emails.verification_email_send(user=user)
    return user


@transaction.atomic
def password_change(*, user: User, old_password: str, new_password: str) -> User:
    """Change the password; every token issued before stops working (their claim is the old hash)."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.check_password(old_password):
        raise ValidationFailed("The current password is wrong.", field="old_password", code="wrong_password")
    _password_check(new_password, user=user, field="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password", "updated_at"])
    return user


def password_reset_request(*, email: str) -> None:
    """Email a one-time reset link if ``email`` has an active account; silent otherwise."""
    user = User.objects.filter(email__iexact=_normalized(email), is_active=True, deleted_at__isnull=True).first()
    if user is not None and user.has_usable_password():
        emails.password_reset_email_send(user=user)


def _user_from_uid(uid: str) -> User | None:
    try:
        pk = int(force_str(urlsafe_base64_decode(uid)))
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    return User.objects.filter(pk=pk, is_active=True, deleted_at__isnull=True).first()


def _invalid_link() -> ValidationFailed:
    return ValidationFailed("The link is invalid or has expired; ask for a new one.", field="token",
                            code="invalid_token")


@transaction.atomic
def password_reset_confirm(*, uid: str, token: str, new_password: str) -> User:
    """Set a new password from an emailed link; the link then stops working."""
    user = _user_from_uid(uid)
    if user is None or not emails.password_reset_token_generator.check_token(user, token):
        raise _invalid_link()
    user = User.objects.select_for_update().get(pk=user.pk)
    _password_check(new_password, user=user, field="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password", "updated_at"])
    return user


@transaction.atomic
def email_verify(*, uid: str, token: str) -> User:
    """Confirm the address the link was sent to: the registration's, or a pending new one."""
    user = _user_from_uid(uid)
    if user is None or not emails.email_verification_token_generator.check_token(user, token):
        raise _invalid_link()
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.pending_email:
        if User.objects.filter(email__iexact=user.pending_email).exclude(pk=user.pk).exists():
            user.pending_email = ""
            user.save(update_fields=["pending_email", "updated_at"])
            raise ValidationFailed("This address now belongs to another account.", field="email",
                                   code="email_taken")
        user.email, user.pending_email = user.pending_email, ""
    user.email_verified = True
    user.save(update_fields=["email", "pending_email", "email_verified", "updated_at"])
    return user


def email_verification_resend(*, user: User) -> None:
    if user.pending_email or not user.email_verified:
        emails.verification_email_send(user=user)


@transaction.atomic
def email_change_request(*, user: User, new_email: str, password: str) -> User:
    """Start changing the address: it changes once the new owner confirms the emailed link.

    A taken address looks pending like any other; its owner gets an email instead of a link.
    """
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.check_password(password):
        raise ValidationFailed("The password is wrong.", field="password", code="wrong_password")
    new_email = _normalized(new_email)
    if new_email == user.email:
        user.pending_email = ""
        user.save(update_fields=["pending_email", "updated_at"])
        return user
    user.pending_email = new_email
    user.save(update_fields=["pending_email", "updated_at"])
    if User.objects.filter(email__iexact=new_email).exclude(pk=user.pk).exists():
        emails.account_exists_email_send(email=new_email, action="move another account to this address")
    else:
        emails.verification_email_send(user=user)
    return user


def _hooks(name: str) -> list[Callable[..., Any]]:
    return [getattr(importlib.import_module(path), name) for path in getattr(settings, "ACCOUNT_DATA_MODULES", [])]


def user_export(*, user: User) -> dict[str, Any]:
    """Everything the product holds about the investor, as JSON-able data (GDPR art. 20)."""
    profile = InvestorProfile.objects.filter(user=user).first()
    data: dict[str, Any] = {
        "exported_at": timezone.now().isoformat(),
        "user": {
            "id": user.pk, "email": user.email, "first_name": user.first_name, "last_name": user.last_name,
            "email_verified": user.email_verified, "pending_email": user.pending_email or None,
            "date_joined": user.date_joined.isoformat(),
            "last_login": user.last_login.isoformat() if user.last_login else None,
        },
        "profile": None if profile is None else {
            **profile.answers(), "investment_horizon": profile.investment_horizon,
            "risk_score": profile.risk_score, "risk_tier": profile.risk_tier,
            "assessed_at": profile.assessed_at.isoformat(),
        },
        "devices": [
            {"id": d.pk, "provider": d.provider, "platform": d.platform, "app_version": d.app_version,
             "name": d.name, "created_at": d.created_at.isoformat(), "last_seen_at": d.last_seen_at.isoformat()}
            for d in user.devices.order_by("id")
        ],
    }
    for export in _hooks("account_export"):
        data.update(export(user=user))
    return data


@transaction.atomic
def user_close(*, user: User, password: str, liquidate: bool = False) -> User:
    """Close the account: portfolios closed (flat, or liquidated by the paper broker when
    ``liquidate``), personal data removed, the ledger kept under an anonymous user row.

    Each module of ``ACCOUNT_DATA_MODULES`` closes what it holds and raises
    :class:`~common.errors.Conflict` (409) when it cannot (a portfolio not flat without
    ``liquidate``); everything rolls back then. The user row stays (the ledger points at
    it) with its email replaced by ``deleted-<id>@deleted.invalid``, names blanked, no usable
    password, inactive; its profile, devices and refresh tokens are deleted.
    """
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.check_password(password):
        raise ValidationFailed("The password is wrong.", field="password", code="wrong_password")
    closed: list[dict[str, Any]] = []
    for close in _hooks("account_close"):
        closed.extend(close(user=user, liquidate=liquidate))
    email, first_name = user.email, user.first_name
    InvestorProfile.objects.filter(user=user).delete()
    user.devices.all().delete()
    tokens = OutstandingToken.objects.filter(user=user)
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=t) for t in tokens.exclude(blacklistedtoken__isnull=False)]
    )
    tokens.update(user=None)
    user.email = f"deleted-{user.pk}@{DELETED_EMAIL_DOMAIN}"
    user.first_name = user.last_name = user.pending_email = ""
    user.email_verified = user.is_active = user.is_staff = user.is_superuser = False
    user.set_unusable_password()
    user.deleted_at = timezone.now()
    user.save()
    user.groups.clear()
    user.user_permissions.clear()
    emails.email_send(template="account_closed", to=email, context={"first_name": first_name, "portfolios": closed})
    return user
