"""``GET /api/v1/health/``: is the database (and, when configured, the broker) reachable?"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import DatabaseError, connection
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class ComponentSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "down", "not_configured"])
    latency_ms = serializers.FloatField(allow_null=True)
    detail = serializers.CharField(allow_blank=True)


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "down"])
    database = ComponentSerializer()
    broker = ComponentSerializer()


def database_check() -> dict:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return {"status": "down", "latency_ms": None, "detail": exc.__class__.__name__}
    return {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 2), "detail": ""}


def broker_check() -> dict:
    url = settings.CELERY_BROKER_URL
    if url.startswith("memory://"):
        return {"status": "not_configured", "latency_ms": None, "detail": "tasks run in process"}
    started = time.perf_counter()
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "down"; the class name says which
        return {"status": "down", "latency_ms": None, "detail": exc.__class__.__name__}
    return {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 2), "detail": ""}


class HealthApi(APIView):
    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []
    throttle_classes: list = []  # load balancers and probes poll it; it must never be 429

    @extend_schema(
        operation_id="health_retrieve",
        responses={200: HealthSerializer, 503: HealthSerializer},
        tags=["health"],
        auth=[],
    )
    def get(self, request: Request) -> Response:  # noqa: ARG002 - DRF's view signature
        database, broker = database_check(), broker_check()
        healthy = database["status"] == "ok" and broker["status"] != "down"
        body = {"status": "ok" if healthy else "down", "database": database, "broker": broker}
        return Response(body, status=200 if healthy else 503)
