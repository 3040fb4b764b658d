"""Auth and profile endpoints for the mobile app (``/api/v1/auth/...``, ``/api/v1/users/me``)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from common.throttling import auth_throttles, email_in_body, refresh_token_user
from users import risk_profile
from users.models import InvestorProfile, User
from users.services import refresh_token_revoke, user_register, user_update
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

    class Meta:
        model = User
        fields = ["id", "email", "first_name", "last_name", "email_verified", "date_joined", "profile"]
        read_only_fields = fields


class RegisterInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    profile = ProfileInputSerializer()


class RegisterApi(APIView):
    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []
    throttle_classes = auth_throttles("auth_register", email_in_body)

    @extend_schema(
        operation_id="auth_register",
        request=RegisterInputSerializer,
        responses={201: UserOutputSerializer},
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
        user = user_register(**serializer.validated_data)
        return Response(UserOutputSerializer(user).data, status=status.HTTP_201_CREATED)


class LoginApi(TokenObtainPairView):
    """Exchange email and password for an access token and a refresh token."""

    throttle_classes = auth_throttles("auth_login", email_in_body)
    serializer_class = SessionTokenObtainSerializer

    @extend_schema(
        operation_id="auth_token",
        responses={
            200: inline_serializer("TokenPair", {"access": serializers.CharField(), "refresh": serializers.CharField()})
        },
        tags=["auth"],
    )
    def post(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().post(request, *args, **kwargs)


class RefreshApi(TokenRefreshView):
    """Rotate a refresh token: returns a new pair and blacklists the one sent."""

    throttle_classes = auth_throttles("auth_refresh", refresh_token_user)
    serializer_class = RotatingRefreshSerializer

    @extend_schema(operation_id="auth_token_refresh", responses={200: RotatingRefreshResponseSerializer}, tags=["auth"])
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


class MeApi(APIView):
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
        user = user_update(user=request.user, data=serializer.validated_data)
        return Response(UserOutputSerializer(user).data)
