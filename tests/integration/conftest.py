"""Fixtures for tests against the real PostgreSQL, Redis and a Celery worker process.

Run by ``make test`` as ``pytest -p tests.integration.services -m integration
tests/integration``; without the plugin these tests are skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(config, items) -> None:
    if os.environ.get("REBALANCER_INTEGRATION") == "1":
        return
    skip = pytest.mark.skip(reason="needs `-p tests.integration.services` (make test)")
    for item in items:
        if "integration" in item.keywords:
            item.add_marker(skip)


def worker_database_url() -> str:
    """URL of the test database pytest-django created (``test_<name>``)."""
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker):
    """A real ``celery worker`` process consuming from Redis, writing to the test database."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "rebalancer.settings.test",
        "DATABASE_URL": worker_database_url(),
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "PYTHONPATH": str(ROOT),
    }
    log = open(ROOT / "var" / "celery-worker-test.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "rebalancer", "worker", "-P", "solo",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    from rebalancer.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"celery worker exited with {process.returncode}; see var/celery-worker-test.log")
        replies = app.control.ping(timeout=1.0)
        if replies:
            break
    else:
        process.kill()
        raise RuntimeError("celery worker did not answer a ping within 60 s")
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
