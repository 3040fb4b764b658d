from unittest import mock

import pytest
from django.db import OperationalError

pytestmark = pytest.mark.django_db


def test_health_is_200_when_the_database_answers(api_client):
    response = api_client.get("/api/v1/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["broker"]["status"] == "not_configured"  # tasks run in process in the tests


def test_health_is_503_when_the_database_is_unreachable(api_client):
    with mock.patch("django.db.backends.utils.CursorWrapper.execute", side_effect=OperationalError("down")):
        response = api_client.get("/api/v1/health/")
    assert response.status_code == 503
    assert response.json()["status"] == "down"
    assert response.json()["database"] == {"status": "down", "latency_ms": None, "detail": "OperationalError"}


def test_health_is_503_when_a_configured_broker_is_down(api_client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = api_client.get("/api/v1/health/")
    assert response.status_code == 503
    assert response.json()["broker"]["status"] == "down"
