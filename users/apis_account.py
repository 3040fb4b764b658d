"""Account endpoints: password change and reset, email verification, data export.

The reset and verification emails carry a link whose query has ``uid`` and ``token``; the
app posts both back. ``auth/password/reset`` always answers 202, whether or not the email
has an account.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.tokens import RefreshToken

from common.idempotency import idempotent
from common.throttling import auth_throttles, email_in_body, uid_in_body
from users.account import (
    email_verification_resend,
    email_verify,
    password_change,
    password_reset_confirm,
    password_reset_request,
    user_export,
)
from users.apis import TOKEN_PAIR, AcceptedSerializer


def _password(**kwargs) -> serializers.CharField:
    return serializers.CharField(max_length=128, trim_whitespace=False, write_only=True, **kwargs)


class PasswordChangeInputSerializer(serializers.Serializer):
    old_password = _password(help_text="The current password.")
    new_password = _password(help_text="At least 10 characters, not common, not all digits, not like your email.")


class PasswordChangeApi(APIView):
    throttle_scope = "auth_password_change"  # per user: a stolen token cannot guess the old password fast
    @extend_schema(
        operation_id="auth_password_change",
        request=PasswordChangeInputSerializer,
        responses={200: TOKEN_PAIR},
        description="Change the password. Every token issued before stops working; the answer is a new "
        "pair so this app stays logged in. A wrong current password is a 400 naming `old_password`.",
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        data = PasswordChangeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = password_change(user=request.user, **data.validated_data)
        refresh = RefreshToken.for_user(user)
        return Response({"access": str(refresh.access_token), "refresh": str(refresh)})


class PasswordResetInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


RESET_ACCEPTED = "If an account has this email, we sent it a link to choose a new password."


class PasswordResetApi(APIView):
    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []
    throttle_classes = auth_throttles("auth_password_reset", email_in_body)  # per IP and per email

    @extend_schema(
        operation_id="auth_password_reset",
        request=PasswordResetInputSerializer,
        responses={202: AcceptedSerializer},
        description="Email a one-time link (query `uid` and `token`) to choose a new password. Always 202: "
        "the answer never tells whether the email has an account.",
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        data = PasswordResetInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        password_reset_request(email=data.validated_data["email"])
        return Response({"detail": RESET_ACCEPTED}, status=status.HTTP_202_ACCEPTED)


class LinkInputSerializer(serializers.Serializer):
    uid = serializers.CharField(max_length=64, help_text="`uid` from the emailed link's query.")
    token = serializers.CharField(max_length=128, help_text="`token` from the emailed link's query.")


class PasswordResetConfirmInputSerializer(LinkInputSerializer):
    new_password = _password()


class PasswordResetConfirmApi(APIView):
    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []
    throttle_classes = auth_throttles("auth_link", uid_in_body)

    @extend_schema(
        operation_id="auth_password_reset_confirm",
        request=PasswordResetConfirmInputSerializer,
        responses={204: None},
        description="Set the new password. The link works once (and expires); an invalid one is a 400 "
        "naming `token`. Tokens issued before stop working.",
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        data = PasswordResetConfirmInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        password_reset_confirm(**data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EmailVerifyApi(APIView):
    permission_classes = [permissions.AllowAny]
    throttle_classes = auth_throttles("auth_link", uid_in_body)
    authentication_classes: list = []

    @extend_schema(
        operation_id="auth_email_verify",
        request=LinkInputSerializer,
        responses={
            200: inline_serializer("EmailVerified", {
                "email": serializers.EmailField(), "email_verified": serializers.BooleanField(),
            })
        },
        description="Confirm an address from the link emailed at registration or after an email change "
        "(which then takes effect). An invalid or used link is a 400 naming `token`.",
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        data = LinkInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = email_verify(**data.validated_data)
        return Response({"email": user.email, "email_verified": user.email_verified})


class EmailVerifyResendApi(APIView):
    @idempotent
    @extend_schema(
        operation_id="auth_email_verify_resend",
        request=None,
        responses={202: AcceptedSerializer},
        description="Send the confirmation link again (to the pending new address if there is one).",
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        email_verification_resend(user=request.user)
        return Response({"detail": "If your address awaits confirmation, we sent the link again."},
                        status=status.HTTP_202_ACCEPTED)


class MeExportApi(APIView):
    @extend_schema(
        operation_id="users_me_export",
        responses={
            200: inline_serializer("AccountExport", {
                "exported_at": serializers.DateTimeField(),
                "user": serializers.DictField(),
                "profile": serializers.DictField(allow_null=True),
                "devices": serializers.ListField(child=serializers.DictField()),
                "portfolios": serializers.ListField(
                    child=serializers.DictField(),
                    help_text="Each with autonomy, targets, positions, cash movements, trades, tax lots, "
                    "decisions and daily snapshots; money as decimal strings.",
                ),
                "notifications": serializers.ListField(child=serializers.DictField()),
                "notification_preferences": serializers.DictField(child=serializers.BooleanField()),
                "backtests": serializers.ListField(child=serializers.DictField()),
            })
        },
        description="Everything we hold about you, as JSON (data portability).",
        tags=["users"],
    )
    def get(self, request: Request) -> Response:
        response = Response(user_export(user=request.user))
        response["Content-Disposition"] = 'attachment; filename="account-export.json"'
        return response
