"""Refresh-token rotation that stays correct under concurrency.

simplejwt's own serializer checks the blacklist and then blacklists with
``get_or_create``: two concurrent refreshes of one token can both pass. Here the
blacklist row is *created* (unique per token) in its own transaction; whoever loses
the race gets an IntegrityError and a 401. A deleted or deactivated user gets a 401
instead of simplejwt's unhandled DoesNotExist.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from rest_framework import serializers
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken


class RotatingRefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(write_only=True)
    access = serializers.CharField(read_only=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        try:
            refresh = RefreshToken(attrs["refresh"])  # signature, expiry, type, blacklist
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
        outstanding = OutstandingToken.objects.filter(jti=jti).first()
        if outstanding is None:
            raise InvalidToken("Token is not recognised.")
        try:
            with transaction.atomic():
                BlacklistedToken.objects.create(token=outstanding)
        except IntegrityError as exc:
            raise InvalidToken("Token is blacklisted") from exc
        new_refresh = RefreshToken.for_user(user)
        return {"access": str(new_refresh.access_token), "refresh": str(new_refresh)}


class RotatingRefreshResponseSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
