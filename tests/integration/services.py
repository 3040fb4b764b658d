"""pytest plugin: start PostgreSQL and Redis before Django is configured.

Loaded with ``pytest -p tests.integration.services`` (``make test`` does). It points
``DATABASE_URL``, ``REDIS_URL`` and ``CELERY_BROKER_URL`` at throwaway instances so
pytest-django creates the test database on PostgreSQL, and stops them at the end.
"""

from __future__ import annotations

import os

import pytest

from tests.integration.pg import free_port, postgres_start, redis_start

_running: list = []


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args) -> None:
    postgres = postgres_start()
    _running.append(postgres)
    redis = redis_start()
    _running.append(redis)
    os.environ["DATABASE_URL"] = postgres.url
    os.environ["REDIS_URL"] = redis.url
    os.environ["CELERY_BROKER_URL"] = redis.url
    os.environ["CELERY_RESULT_BACKEND"] = redis.url
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0"
    os.environ["REBALANCER_INTEGRATION"] = "1"
    # The fake Alpaca of tests/integration/test_broker_alpaca.py listens on this port; the
    # Celery worker (started later, with this environment) trades against it.
    port = free_port()
    os.environ["ALPACA_FAKE_PORT"] = str(port)
    os.environ["ALPACA_BASE_URL"] = f"http://127.0.0.1:{port}"
    os.environ["ALPACA_API_KEY"], os.environ["ALPACA_SECRET_KEY"] = "test-key", "test-secret"


def pytest_unconfigure(config) -> None:
    while _running:
        _running.pop().stop()
