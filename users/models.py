"""The custom user (email is the login) and the investor profile with its risk assessment."""

from __future__ import annotations

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractBaseUser, PermissionsMixin
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from users import risk_profile


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        """Log in by email whatever its case (registration stores it lower-cased)."""
        return self.get(email__iexact=username)

    def _create_user(self, email: str, password: str | None, **extra: object) -> User:
        if not email:
            raise ValueError("email is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Can log into the admin (operators).")
    email_verified = models.BooleanField(default=False)
    pending_email = models.EmailField(
        blank=True, help_text="A new address awaiting verification (PATCH users/me); email stays until then."
    )
    date_joined = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(
        null=True, blank=True, help_text="Account closed (DELETE users/me): personal data removed, ledger kept."
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["id"]
        constraints = [
            # Emails are one account whatever their case (login, reset and registration ignore it).
            models.UniqueConstraint(Lower("email"), name="users_email_case_insensitive_unique"),
        ]

    def __str__(self) -> str:
        return self.email


class RiskTier(models.TextChoices):
    CONSERVATIVE = "conservative"
    MODERATE = "moderate"
    BALANCED = "balanced"
    GROWTH = "growth"
    AGGRESSIVE = "aggressive"


def _choices(table: dict[str, int]) -> list[tuple[str, str]]:
    return [(key, key.replace("_", " ")) for key in table]


class InvestorProfile(models.Model):
    """The investor's questionnaire answers and the risk score/tier derived from them.

    The score is recomputed by ``users.services.profile_update`` whenever an answer
    changes, by the rule documented in ``users.risk_profile``.
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="profile")
    age_band = models.CharField(max_length=16, choices=_choices(risk_profile.AGE_BAND))
    investment_horizon = models.PositiveSmallIntegerField(
        help_text="Years until the money is needed.",
        validators=[MaxValueValidator(risk_profile.MAX_HORIZON_YEARS)],
    )
    income_stability = models.CharField(
        max_length=16, choices=_choices(risk_profile.INCOME_STABILITY)
    )
    loss_reaction = models.CharField(max_length=16, choices=_choices(risk_profile.LOSS_REACTION))
    experience = models.CharField(max_length=16, choices=_choices(risk_profile.EXPERIENCE))
    emergency_fund = models.CharField(
        max_length=16, choices=_choices(risk_profile.EMERGENCY_FUND)
    )
    risk_score = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    risk_tier = models.CharField(max_length=16, choices=RiskTier.choices)
    assessed_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(risk_score__gte=1, risk_score__lte=10),
                name="profile_risk_score_1_10",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user.email}: {self.risk_tier} ({self.risk_score}/10)"

    def answers(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in risk_profile.CHOICES}


class Device(models.Model):
    """A phone that receives the investor's push notifications (FCM or APNs token)."""

    class Provider(models.TextChoices):
        FCM = "fcm", "Firebase Cloud Messaging"
        APNS = "apns", "Apple Push Notification service"

    class Platform(models.TextChoices):
        ANDROID = "android"
        IOS = "ios"
        WEB = "web"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="devices")
    provider = models.CharField(max_length=8, choices=Provider.choices)
    token = models.CharField(max_length=512, help_text="The registration token the app got from FCM or APNs.")
    platform = models.CharField(max_length=8, choices=Platform.choices)
    app_version = models.CharField(max_length=32, blank=True)
    name = models.CharField(max_length=100, blank=True, help_text='e.g. "Ada\'s Pixel".')
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            # A token identifies one app install: registering it again moves it to its new owner.
            models.UniqueConstraint(fields=["provider", "token"], name="device_provider_token_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.platform} {self.provider} device of user #{self.user_id}"
