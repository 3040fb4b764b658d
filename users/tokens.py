"""Sessions of JWTs: rotation that stays correct under concurrency, reuse detection, logout.

A **session** starts at login and is a *family* of tokens: every refresh token carries
the claim ``fam`` (the first refresh token's ``jti``), rotation hands it on, and access
tokens copy it from the refresh token they come from.

* Rotation (:class:`RotatingRefreshSerializer`): simplejwt's own serializer checks the
  blacklist and then blacklists with ``get_or_create``, so two concurrent refreshes of one
  token could both pass. Here the blacklist row is *created* (unique per token) in its own
  transaction; whoever loses the race gets an IntegrityError and a 401.
* Reuse detection: a refresh token that was already rotated (or logged out) is presented
  again. Either a thief or the owner holds a copy; the server cannot tell which, so the
  whole family is revoked (:func:`family_revoke`, OAuth 2.0 Security BCP §4.14): every
  refresh token of the family is blacklisted in the database and its access tokens are
  denied. A client that refreshes one token twice in parallel logs itself out; refreshes
  must be serialised by the app.
* Logout (:func:`session_end`) blacklists the refresh token and denies the session's
  access tokens at once instead of letting them live up to ``ACCESS_TOKEN_LIFETIME``.

The **denylist** holds the ``jti`` of single access tokens and the ``fam`` of revoked
sessions in the cache (Redis in production) for one access-token lifetime, after which
those access tokens have expired anyway. :class:`DenylistJWTAuthentication` (the API's
authentication class) refuses a denied token with 401. With the cache unreachable it
raises and the API answers 503: accepting the token would undo a logout.

A deleted or deactivated user gets a 401 instead of simplejwt's unhandled DoesNotExist.
"""

from __future__ import annotations

from typing import Any

import jwt
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import IntegrityError, transaction
from rest_framework import serializers
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import BlacklistMixin, RefreshToken, Token
from rest_framework_simplejwt.utils import datetime_from_epoch

FAMILY_CLAIM = "fam"
DENY_PREFIX = "jwt:deny"


# --- issuing -------------------------------------------------------------------------
class SessionRefreshToken(RefreshToken):
    """A refresh token that belongs to a session family (``fam``)."""

    @classmethod
    def for_session(cls, user, family: str | None = None) -> SessionRefreshToken:
        """A new refresh token of ``user`` in ``family`` (a new family when ``None``).

        Like simplejwt's ``for_user`` (claims, then the outstanding row), with ``fam`` set
        before the row is written, so the stored token names its family.
        """
        token = super(BlacklistMixin, cls).for_user(user)  # Token.for_user: claims, no row
        token[FAMILY_CLAIM] = family or token[api_settings.JTI_CLAIM]
        OutstandingToken.objects.create(
            user=user,
            jti=token[api_settings.JTI_CLAIM],
            token=str(token),
            created_at=token.current_time,
            expires_at=datetime_from_epoch(token["exp"]),
        )
        return token


class _RefreshTokenBlacklistUnchecked(RefreshToken):
    """Verifies signature, expiry and type, but leaves the blacklist to the caller."""

    def check_blacklist(self) -> None:
        return None


class SessionTokenObtainSerializer(TokenObtainPairSerializer):
    """Login: email and password for a pair that starts a new session family."""

    @classmethod
    def get_token(cls, user) -> Token:
        return SessionRefreshToken.for_session(user)


# --- the denylist --------------------------------------------------------------------
def _deny_ttl_s() -> int:
    return int(api_settings.ACCESS_TOKEN_LIFETIME.total_seconds()) + 60


def _key(kind: str, value: str) -> str:
    return f"{DENY_PREFIX}:{kind}:{value}"


def access_deny(*, jti: str | None = None, family: str | None = None) -> None:
    """Refuse one access token (``jti``) or every access token of a session (``family``)."""
    entries = {}
    if jti:
        entries[_key("jti", jti)] = 1
    if family:
        entries[_key("fam", family)] = 1
    if entries:
        cache.set_many(entries, timeout=_deny_ttl_s())


def access_denied(payload: dict[str, Any]) -> bool:
    keys = [_key("jti", str(payload.get(api_settings.JTI_CLAIM, "")))]
    if payload.get(FAMILY_CLAIM):
        keys.append(_key("fam", str(payload[FAMILY_CLAIM])))
    return bool(cache.get_many(keys))


class DenylistJWTAuthentication(JWTAuthentication):
    """simplejwt's bearer authentication that also refuses logged-out and revoked tokens."""

    def get_validated_token(self, raw_token: bytes) -> Token:
        token = super().get_validated_token(raw_token)
        if access_denied(token.payload):
            raise InvalidToken({"detail": "Token has been revoked.", "messages": []})
        return token


# --- revoking --------------------------------------------------------------------------
def _family_of(token_text: str) -> str | None:
    try:
        claims = jwt.decode(token_text, options={"verify_signature": False, "verify_exp": False})
    except jwt.PyJWTError:
        return None
    return claims.get(FAMILY_CLAIM) or claims.get(api_settings.JTI_CLAIM)


def family_revoke(*, user, family: str) -> int:
    """Blacklist every live refresh token of ``user``'s session ``family`` and deny its
    access tokens; returns how many refresh tokens were blacklisted. Idempotent."""
    live = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True).only("id", "token")
    members = [t for t in live if _family_of(t.token) == family]
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=t) for t in members], ignore_conflicts=True
    )
    access_deny(family=family)
    return len(members)


def session_end(*, refresh: RefreshToken, access_payload: dict[str, Any] | None) -> None:
    """Logout: blacklist ``refresh`` and deny the session's access tokens now."""
    refresh.blacklist()
    family = refresh.payload.get(FAMILY_CLAIM)
    access_deny(
        jti=(access_payload or {}).get(api_settings.JTI_CLAIM),
        family=family or (access_payload or {}).get(FAMILY_CLAIM),
    )


# --- rotating --------------------------------------------------------------------------
class RotatingRefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(write_only=True)
    access = serializers.CharField(read_only=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        try:
            refresh = _RefreshTokenBlacklistUnchecked(attrs["refresh"])  # signature, expiry, type
        except TokenError as exc:
            raise InvalidToken(exc.args[0]) from exc
        user = (
            get_user_model()
            .objects.filter(**{api_settings.USER_ID_FIELD: refresh.payload.get(api_settings.USER_ID_CLAIM)})
            .first()
        )
        if user is None or not api_settings.USER_AUTHENTICATION_RULE(user):
            raise AuthenticationFailed("No active account found for the given token.", "no_active_account")
        jti = refresh.payload[api_settings.JTI_CLAIM]
        family = refresh.payload.get(FAMILY_CLAIM)
        outstanding = OutstandingToken.objects.filter(jti=jti).first()
        if outstanding is None:
            raise InvalidToken("Token is not recognised.")
        try:
            with transaction.atomic():
                BlacklistedToken.objects.create(token=outstanding)
        except IntegrityError as exc:
            # Already rotated or logged out: a copy is in other hands. End the session.
            family_revoke(user=user, family=family or jti)
            raise InvalidToken("Token is blacklisted") from exc
        new_refresh = SessionRefreshToken.for_session(user, family=family or jti)
        return {"access": str(new_refresh.access_token), "refresh": str(new_refresh)}


class RotatingRefreshResponseSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


# The OpenAPI security scheme of the authentication class (the same bearer JWT).
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme  # noqa: E402


class DenylistJWTScheme(SimpleJWTScheme):
    target_class = "users.tokens.DenylistJWTAuthentication"
