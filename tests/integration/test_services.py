"""The real services: migrations on PostgreSQL, Redis as cache and broker, a Celery worker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

pytestmark = pytest.mark.integration


@pytest.mark.django_db
def test_database_is_postgresql_with_all_migrations_applied():
    # given the test session's database
    from django.db.migrations.executor import MigrationExecutor

    # when we ask which migrations are unapplied
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())

    # then it is PostgreSQL through psycopg 3 and nothing is pending
    assert connection.vendor == "postgresql"
    assert connection.Database.__name__ == "psycopg"
    assert plan == []


def test_cache_is_redis():
    # given the cache configured from REDIS_URL
    from django.conf import settings

    # when a value is set and read back through Django's cache
    cache.set("integration-probe", 42, 30)

    # then it went through Redis
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert cache.get("integration-probe") == 42


@pytest.mark.django_db(transaction=True)
def test_celery_worker_runs_a_task_that_writes_to_postgresql(celery_worker_process, investor):
    # given one expired and one live refresh token in PostgreSQL
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    from users.tasks import tokens_flush_expired_task

    now = timezone.now()
    OutstandingToken.objects.create(
        user=investor, jti="expired-jti", token="x", created_at=now - timedelta(days=30), expires_at=now - timedelta(days=1)
    )
    OutstandingToken.objects.create(
        user=investor, jti="live-jti", token="y", created_at=now, expires_at=now + timedelta(days=1)
    )

    # when the real worker (another process, through Redis) runs the flush task
    result = tokens_flush_expired_task.delay()
    deleted = result.get(timeout=60)

    # then the worker deleted exactly the expired row in PostgreSQL, which we read back
    assert deleted >= 1
    assert set(OutstandingToken.objects.values_list("jti", flat=True)) == {"live-jti"}
