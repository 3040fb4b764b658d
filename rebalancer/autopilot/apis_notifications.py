"""``GET notifications``, ``POST notifications/{id}/read``, ``POST notifications/read``:
what the autopilot did with the investor's portfolios, for the app's inbox."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import Pagination
from common.idempotency import idempotent
from common.read_cache import CACHED_READ_EXTENSION, IF_NONE_MATCH, NOT_MODIFIED, cached_read
from rebalancer.autopilot import notifications
from rebalancer.autopilot.models import Notification
from rebalancer.autopilot.wording import decision_text


class NotificationSerializer(serializers.ModelSerializer):
    portfolio = serializers.IntegerField(source="portfolio_id", allow_null=True, read_only=True)
    decision = serializers.IntegerField(source="decision_id", allow_null=True, read_only=True)
    read = serializers.SerializerMethodField()
    explanation_text = serializers.SerializerMethodField(
        help_text="The decision behind it in plain words, in the request's language (Accept-Language), "
        "amounts in the portfolio's currency; empty when the notification has no decision."
    )

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "explanation_text", "portfolio", "decision", "created_at",
                  "read_at", "read"]
        read_only_fields = fields

    def get_read(self, obj: Notification) -> bool:
        return obj.read_at is not None

    def get_explanation_text(self, obj: Notification) -> str:
        decision = obj.decision
        if decision is None:
            return ""
        return decision_text(decision)


class NotificationsQuerySerializer(serializers.Serializer):
    unread = serializers.BooleanField(required=False, default=False)
    portfolio = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)


class NotificationsReadAllOutputSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many notifications were unread and are now read.")


NOTIFICATION_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)


class NotificationListApi(APIView):
    pagination_class = Pagination

    @extend_schema(
        operation_id="notifications_list",
        parameters=[
            OpenApiParameter("unread", OpenApiTypes.BOOL, description="Only notifications not read yet."),
            OpenApiParameter("portfolio", OpenApiTypes.INT, description="Only this portfolio's."),
            IF_NONE_MATCH,
        ],
        responses={200: NotificationSerializer(many=True), **NOT_MODIFIED},
        extensions=CACHED_READ_EXTENSION,
        description="The investor's notifications, newest first: rebalances done, proposals awaiting "
        "approval, moves to a defensive allocation.",
    )
    def get(self, request: Request) -> Response:
        query = NotificationsQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)

        def page() -> dict:
            rows = notifications.notifications_list(
                user=request.user, unread=query.validated_data["unread"],
                portfolio_id=query.validated_data.get("portfolio"),
            )
            paginator = Pagination()
            return paginator.get_paginated_response(
                NotificationSerializer(paginator.paginate_queryset(rows, request, view=self), many=True).data
            ).data

        return cached_read(request, endpoint="notifications_list", compute=page,
                           version=lambda: notifications.notifications_version(user=request.user))


class NotificationReadApi(APIView):
    @idempotent
    @extend_schema(
        operation_id="notifications_read",
        parameters=[NOTIFICATION_ID],
        request=None,
        responses={200: NotificationSerializer},
        description="Mark one notification read (idempotent).",
    )
    def post(self, request: Request, id: int) -> Response:  # noqa: A002 — the path's name
        notification = notifications.notification_mark_read(user=request.user, notification_id=id)
        return Response(NotificationSerializer(notification).data)


class NotificationReadAllApi(APIView):
    @idempotent
    @extend_schema(
        operation_id="notifications_read_all",
        request=None,
        responses={200: NotificationsReadAllOutputSerializer},
        description="Mark every unread notification read.",
    )
    def post(self, request: Request) -> Response:
        marked = notifications.notifications_mark_all_read(user=request.user)
        return Response({"marked": marked})


class NotificationPreferencesSerializer(serializers.Serializer):
    """Push on or off per kind of notification; a PUT may give only the kinds it changes."""

    rebalanced = serializers.BooleanField(required=False, help_text="The autopilot rebalanced a portfolio.")
    proposal = serializers.BooleanField(required=False, help_text="A rebalance awaits your approval.")
    skipped = serializers.BooleanField(required=False, help_text="The autopilot skipped a portfolio.")
    risk = serializers.BooleanField(required=False, help_text="A portfolio moved to a defensive allocation.")
    failed = serializers.BooleanField(required=False, help_text="The autopilot could not run for a portfolio.")


assert set(NotificationPreferencesSerializer().fields) == set(Notification.Kind.values), "one field per kind"


class NotificationPreferencesOutputSerializer(NotificationPreferencesSerializer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = True


class NotificationPreferencesApi(APIView):
    @extend_schema(
        operation_id="notifications_preferences_retrieve",
        responses={200: NotificationPreferencesOutputSerializer},
        description="Which kinds of notification also come as a push to your devices (all of them "
        "until you turn some off). Every notification stays in GET notifications either way.",
    )
    def get(self, request: Request) -> Response:
        return Response(notifications.notification_preferences_get(user=request.user))

    @extend_schema(
        operation_id="notifications_preferences_update",
        request=NotificationPreferencesSerializer,
        responses={200: NotificationPreferencesOutputSerializer},
        description="Turn push on or off per kind; kinds left out keep their setting.",
    )
    def put(self, request: Request) -> Response:
        data = NotificationPreferencesSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(notifications.notification_preferences_set(user=request.user, push=data.validated_data))
