"""Fast tests: SQLite in memory, tasks in process, fast password hashing.

The integration tests (``tests/integration``) point Django at a throwaway PostgreSQL
cluster, Redis server and a real Celery worker that the test session starts.
"""

import os

from rebalancer.settings.base import *  # noqa: F403
from rebalancer.settings.base import env

SECRET_KEY = "test-secret-key-not-for-production-0123456789abcdef"
SIMPLE_JWT["SIGNING_KEY"] = SECRET_KEY  # noqa: F405
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if not os.environ.get("DATABASE_URL"):
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
if not REDIS_URL:  # noqa: F405
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
# Tasks run inline after commit so tests can assert their results (one test measures the
# background mode the demo uses: tests/backtests/test_apis.py).
TASKS_EAGER_IN_BACKGROUND = env.bool("TASKS_EAGER_IN_BACKGROUND", default=False)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "test-media"  # noqa: F405
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# Emails are files the tests read (tests/users/conftest.py points EMAIL_FILE_PATH at a tmp dir).
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = str(VAR_DIR / "test-emails")  # noqa: F405
# No test reaches the internet: Alpaca endpoints default to a closed loopback port (the
# fake server of tests/portfolios/brokers/fake_alpaca.py replaces them where needed).
ALPACA_BASE_URL = env("ALPACA_BASE_URL", default="http://127.0.0.1:9")
ALPACA_LIVE_URL = env("ALPACA_LIVE_URL", default="http://127.0.0.1:9")
ALPACA_TIMEOUT_S = 5.0
