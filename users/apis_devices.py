"""``GET/POST devices``, ``DELETE devices/{id}``: the phones that get the investor's pushes."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import Pagination
from common.idempotency import idempotent
from users.devices import device_register, device_unregister, devices_list
from users.models import Device


class DeviceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Device
        fields = ["id", "provider", "platform", "app_version", "name", "created_at", "last_seen_at"]
        read_only_fields = fields


class DeviceInputSerializer(serializers.Serializer):
    provider = serializers.ChoiceField(
        choices=Device.Provider.choices,
        help_text="`fcm` for a Firebase registration token (Android, or iOS through Firebase), `apns` for "
        "an APNs device token.",
    )
    token = serializers.CharField(max_length=512, help_text="The token the app got from FCM or APNs.")
    platform = serializers.ChoiceField(choices=Device.Platform.choices)
    app_version = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if attrs["provider"] == Device.Provider.APNS and attrs["platform"] != Device.Platform.IOS:
            raise serializers.ValidationError({"platform": "an APNs token belongs to an iOS device"})
        return attrs


DEVICE_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Device id.")


class DeviceListApi(APIView):
    pagination_class = Pagination

    @extend_schema(operation_id="devices_list", responses={200: DeviceSerializer(many=True)}, tags=["devices"])
    def get(self, request: Request) -> Response:
        paginator = Pagination()
        page = paginator.paginate_queryset(devices_list(user=request.user), request, view=self)
        return paginator.get_paginated_response(DeviceSerializer(page, many=True).data)

    @idempotent
    @extend_schema(
        operation_id="devices_register",
        request=DeviceInputSerializer,
        responses={201: DeviceSerializer, 200: DeviceSerializer},
        description="Register this install's push token (201), or refresh it (200: same token again, "
        "e.g. at every app start; a token last registered by another account moves to this one).",
        tags=["devices"],
    )
    def post(self, request: Request) -> Response:
        data = DeviceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        device, created = device_register(user=request.user, **data.validated_data)
        return Response(DeviceSerializer(device).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class DeviceDetailApi(APIView):
    @extend_schema(
        operation_id="devices_destroy", parameters=[DEVICE_ID], responses={204: None},
        description="Stop pushes to this device (at logout). Another user's device is a 404.",
        tags=["devices"],
    )
    def delete(self, request: Request, id: int) -> Response:  # noqa: A002 - the path's name
        device_unregister(user=request.user, device_id=id)
        return Response(status=status.HTTP_204_NO_CONTENT)
