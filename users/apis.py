"""Auth and profile endpoints for the mobile app (``/api/v1/auth/...``, ``/api/v1/users/me``)."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from common.api import error_responses
from common.schema import DeleteWithBodySchema
from common.throttling import auth_throttles, email_in_body, refresh_token_user
from users import risk_profile
from users.account import email_change_request, registration_submit, user_close
from users.models import InvestorProfile, User
from users.services import refresh_token_revoke, user_update
from users.tokens import (
    RotatingRefreshResponseSerializer,
    RotatingRefreshSerializer,
    SessionTokenObtainSerializer,
)


class ProfileInputSerializer(serializers.Serializer):
    age_band = serializers.ChoiceField(choices=list(risk_profile.AGE_BAND))
    investment_horizon = serializers.IntegerField(min_value=0, max_value=risk_profile.MAX_HORIZON_YEARS)
    income_stability = serializers.ChoiceField(choices=list(risk_profile.INCOME_STABILITY))
    loss_reaction = serializers.ChoiceField(
        choices=list(risk_profile.LOSS_REACTION),
        help_text="If your portfolio fell 20% in a month, you would...",
    )
    experience = serializers.ChoiceField(choices=list(risk_profile.EXPERIENCE))
    emergency_fund = serializers.ChoiceField(choices=list(risk_profile.EMERGENCY_FUND))


class ProfileOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = InvestorProfile
        fields = [
            "age_band", "investment_horizon", "income_stability", "loss_reaction",
            "experience", "emergency_fund", "risk_score", "risk_tier", "assessed_at",
        ]
        read_only_fields = fields


class UserOutputSerializer(serializers.ModelSerializer):
    profile = ProfileOutputSerializer(read_only=True)
    pending_email = serializers.SerializerMethodField(
        help_text="A new address awaiting confirmation by its emailed link, or null."
    )

    class Meta:
        model = User
        fields = [
            "id", "email", "first_name", "last_name", "email_verified", "pending_email", "date_joined", "profile",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.EmailField(allow_null=True))
    def get_pending_email(self, obj: User) -> str | None:
        return obj.pending_email or None


class RegisterInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    profile = ProfileInputSerializer()


class AcceptedSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What happens next, for people.")


REGISTER_ACCEPTED = (
    "Check your inbox: we sent a link to confirm your email address. Then log in with POST auth/token."
)


class RegisterApi(APIView):
    """Create an account. The answer is the same whether or not the email already has one
    (its owner gets an email instead), so it never reveals who is a customer."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []
    throttle_classes = auth_throttles("auth_register", email_in_body)

    @extend_schema(
        operation_id="auth_register",
        request=RegisterInputSerializer,
        responses={202: AcceptedSerializer},
        examples=[
            OpenApiExample(
                "New investor",
                request_only=True,
                value={
                    "email": "ada@example.com",
                    "password": "correct-horse-battery-staple",
                    "first_name": "Ada",
                    "profile": {
                        "age_band": "30_44", "investment_horizon": 15, "income_stability": "stable",
                        "loss_reaction": "hold", "experience": "basic", "emergency_fund": "3_to_6_months",
                    },
                },
            )
        ],
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        serializer = RegisterInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        registration_submit(**serializer.validated_data)
        return Response({"detail": REGISTER_ACCEPTED}, status=status.HTTP_202_ACCEPTED)


TOKEN_PAIR = inline_serializer("TokenPair", {"access": serializers.CharField(), "refresh": serializers.CharField()})


class LoginApi(TokenObtainPairView):
    """Exchange email and password for an access token and a refresh token."""

    throttle_classes = auth_throttles("auth_login", email_in_body)
    serializer_class = SessionTokenObtainSerializer

    @extend_schema(
        operation_id="auth_token",
        responses={200: TOKEN_PAIR, **error_responses(401)},
        tags=["auth"],
    )
    def post(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().post(request, *args, **kwargs)


class RefreshApi(TokenRefreshView):
    """Rotate a refresh token: returns a new pair and blacklists the one sent."""

    throttle_classes = auth_throttles("auth_refresh", refresh_token_user)
    serializer_class = RotatingRefreshSerializer

    @extend_schema(
        operation_id="auth_token_refresh",
        responses={200: RotatingRefreshResponseSerializer, **error_responses(401)},
        tags=["auth"],
    )
    def post(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().post(request, *args, **kwargs)


class LogoutInputSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class LogoutApi(APIView):
    @extend_schema(operation_id="auth_logout", request=LogoutInputSerializer, responses={204: None}, tags=["auth"])
    def post(self, request: Request) -> Response:
        serializer = LogoutInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        access = getattr(request.auth, "payload", None)
        refresh_token_revoke(user=request.user, refresh=serializer.validated_data["refresh"], access_payload=access)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MePatchSerializer(serializers.Serializer):
    """Only these fields are editable; anything else in the body is ignored."""

    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    profile = ProfileInputSerializer(required=False, partial=True)
    email = serializers.EmailField(
        max_length=254, required=False,
        help_text="A new address: it becomes `pending_email` and replaces `email` once confirmed by the "
        "link emailed to it. Needs `password`.",
    )
    password = serializers.CharField(
        max_length=128, required=False, write_only=True, trim_whitespace=False,
        help_text="Your current password (only to change `email`).",
    )

    def validate(self, attrs):
        if "email" in attrs and not attrs.get("password"):
            raise serializers.ValidationError(
                {"password": [ErrorDetail("Give your current password to change the email.", code="required")]}
            )
        return attrs


class MeDeleteSerializer(serializers.Serializer):
    password = serializers.CharField(max_length=128, trim_whitespace=False, help_text="Your current password.")
    liquidate = serializers.BooleanField(
        default=False,
        help_text="Sell every position at its latest close with the paper broker and pay the cash out, "
        "so that each portfolio can close. Without it, a portfolio that is not flat is a 409.",
    )


class MeApi(APIView):
    schema = DeleteWithBodySchema()

    @extend_schema(operation_id="users_me_retrieve", responses={200: UserOutputSerializer}, tags=["users"])
    def get(self, request: Request) -> Response:
        return Response(UserOutputSerializer(request.user).data)

    @extend_schema(
        operation_id="users_me_partial_update",
        request=MePatchSerializer,
        responses={200: UserOutputSerializer},
        tags=["users"],
    )
    def patch(self, request: Request) -> Response:
        serializer = MePatchSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        email, password = data.pop("email", None), data.pop("password", None)
        with transaction.atomic():
            user = user_update(user=request.user, data=data)
            if email is not None:
                user = email_change_request(user=user, new_email=email, password=password)
        return Response(UserOutputSerializer(user).data)

    @extend_schema(
        operation_id="users_me_destroy",
        request=MeDeleteSerializer,
        responses={204: None, **error_responses(409)},
        description="Close the account. Each portfolio closes if it is flat, or after the paper broker "
        "sells everything and the cash is paid out (`liquidate`); otherwise 409 naming `liquidate`, and "
        "nothing changes. The ledger (cash movements, trades, lots, decisions) is kept, as the law "
        "requires, under an anonymous account; name, email, questionnaire, devices, notifications and "
        "backtests are deleted and every token stops working.",
        tags=["users"],
    )
    def delete(self, request: Request) -> Response:
        serializer = MeDeleteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user_close(user=request.user, **serializer.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)
