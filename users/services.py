"""Services that write users and profiles, and revoke or expire tokens."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from common.errors import ValidationFailed
from users import risk_profile
from users.models import InvestorProfile, User

PROFILE_FIELDS = (*risk_profile.CHOICES, "investment_horizon")


def _assess(answers: dict[str, Any]) -> risk_profile.RiskAssessment:
    try:
        return risk_profile.assess(
            {k: answers.get(k) for k in risk_profile.CHOICES},
            investment_horizon=answers.get("investment_horizon"),  # type: ignore[arg-type]
        )
    except risk_profile.QuestionnaireError as exc:
        raise ValidationFailed(str(exc), field=f"profile.{exc.field}", code="invalid_choice") from exc


@transaction.atomic
def user_register(
    *, email: str, password: str, profile: dict[str, Any], first_name: str = "", last_name: str = ""
) -> User:
    """Create an investor and the profile scored from their questionnaire answers."""
    email = User.objects.normalize_email(email).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationFailed("A user with this email already exists.", field="email", code="unique")
    candidate = User(email=email, first_name=first_name, last_name=last_name)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise ValidationFailed(" ".join(exc.messages), field="password", code="password_too_weak") from exc
    assessment = _assess(profile)
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email=email, password=password, first_name=first_name, last_name=last_name
            )
    except IntegrityError as exc:  # a concurrent registration won the race
        raise ValidationFailed("A user with this email already exists.", field="email", code="unique") from exc
    InvestorProfile.objects.create(
        user=user,
        **{k: profile[k] for k in PROFILE_FIELDS},
        risk_score=assessment.risk_score,
        risk_tier=assessment.risk_tier,
    )
    return user


@transaction.atomic
def user_update(*, user: User, data: dict[str, Any]) -> User:
    """Update the editable fields of a user and re-score the questionnaire if it changed.

    Only ``first_name``, ``last_name`` and the questionnaire answers are editable; the
    caller's serializer drops everything else (no mass assignment).
    """
    user = User.objects.select_for_update().get(pk=user.pk)
    changed = [f for f in ("first_name", "last_name") if f in data]
    for name in changed:
        setattr(user, name, data[name])
    if changed:
        user.save(update_fields=[*changed, "updated_at"])
    answers = data.get("profile") or {}
    if answers:
        profile = InvestorProfile.objects.select_for_update().get(user=user)
        merged = {**profile.answers(), "investment_horizon": profile.investment_horizon, **answers}
        assessment = _assess(merged)
        for name in PROFILE_FIELDS:
            setattr(profile, name, merged[name])
        profile.risk_score = assessment.risk_score
        profile.risk_tier = assessment.risk_tier
        profile.assessed_at = timezone.now()
        profile.save()
    return user


def refresh_token_revoke(*, user: User, refresh: str, access_payload: dict[str, Any] | None = None) -> None:
    """Logout: blacklist ``refresh`` and deny the session's access tokens (``users.tokens``).

    ``refresh`` must be a valid refresh token of ``user``; ``access_payload`` is the claims
    of the access token the request came with (denied at once, not in 15 minutes).
    """
    from users.tokens import session_end

    try:
        token = RefreshToken(refresh)
    except TokenError as exc:
        raise ValidationFailed(str(exc), field="refresh", code="token_not_valid") from exc
    if str(token.payload.get("user_id")) != str(user.pk):
        raise ValidationFailed("The refresh token belongs to another user.", field="refresh", code="token_not_valid")
    session_end(refresh=token, access_payload=access_payload)


def tokens_flush_expired() -> int:
    """Delete outstanding refresh tokens past expiry (their blacklist rows cascade)."""
    deleted, _ = OutstandingToken.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
