"""Settings shared by every environment, read from the process environment (12-factor).

With no variables set the embedded default applies: SQLite in ``var/`` and Celery
tasks run in process. ``DATABASE_URL`` switches to PostgreSQL (psycopg 3);
``CELERY_BROKER_URL`` / ``REDIS_URL`` switch Celery and the cache to Redis.
Every variable is listed in the README.
"""

from __future__ import annotations

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()

# --- core -----------------------------------------------------------------------
SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-insecure-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
VAR_DIR = Path(env("DJANGO_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # third party
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "drf_standardized_errors",
    "django_filters",
    "django_celery_beat",
    "django_prometheus",
    # ours, base layer first (lower layers never import higher ones)
    "common",
    "users",
    "marketdata",
    "portfolios",
    "risk",
    "mlagents",
    "mlagents.regime",
    "rebalancer.autopilot",
    "rebalancer.backtests",
    "rebalancer.ops",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "rebalancer.ops.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # the request's language (Accept-Language) for gettext
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "rebalancer.urls"
WSGI_APPLICATION = "rebalancer.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------
# DATABASE_URL=postgres://user:pass@host:5432/name selects PostgreSQL through psycopg 3.
DATABASES = {
    "default": env.db(
        "DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
    )
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the dev server read while a command writes; the timeout waits out short locks.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "users.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": env.int("PASSWORD_MIN_LENGTH", default=10)}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
"""Languages the investor's texts are translated into (catalogues in ``locale/``)."""
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise serves from it (collectstatic fills it)
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env("DJANGO_MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- cache (Redis when REDIS_URL is set) ------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "rebalancer",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "rebalancer",
        }
    }

# --- market data ------------------------------------------------------------------
# Provider of the scheduled pull: synthetic (default, the ground-truth simulator), csv, yahoo.
MARKETDATA_PROVIDER = env("MARKETDATA_PROVIDER", default="synthetic")
MARKETDATA_PROVIDER_OPTIONS: dict = {}
MARKETDATA_PULL_HISTORY_DAYS = env.int("MARKETDATA_PULL_HISTORY_DAYS", default=365 * 10)
# Data-health thresholds (marketdata.validation.HealthRules): the autopilot refuses to
# trade an asset whose series is stale, has gaps or moves beyond these bounds.
MARKETDATA_HEALTH = {
    "max_daily_move": env.float("MARKETDATA_MAX_DAILY_MOVE", default=0.50),
    "stale_after_days": env.int("MARKETDATA_STALE_AFTER_DAYS", default=3),
    "max_gap_days": env.int("MARKETDATA_MAX_GAP_DAYS", default=5),
}

# Credentials of the demo accounts created by `python manage.py demo` (make demo).
DEMO_INVESTOR_PASSWORD = env("DEMO_INVESTOR_PASSWORD", default="demo-investor-pass-2026")
DEMO_OPERATOR_PASSWORD = env("DEMO_OPERATOR_PASSWORD", default="demo-operator-pass-2026")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

from rebalancer.settings.integrations.agents import *  # noqa: E402,F403
from rebalancer.settings.integrations.alpaca import *  # noqa: E402,F403
from rebalancer.settings.integrations.celery import *  # noqa: E402,F403
from rebalancer.settings.integrations.drf import *  # noqa: E402,F403
from rebalancer.settings.integrations.email import *  # noqa: E402,F403
from rebalancer.settings.integrations.jwt import *  # noqa: E402,F403
from rebalancer.settings.integrations.ops import *  # noqa: E402,F403
from rebalancer.settings.integrations.queues import *  # noqa: E402,F403
from rebalancer.settings.integrations.security import *  # noqa: E402,F403
from rebalancer.settings.integrations.spectacular import *  # noqa: E402,F403

# What each higher app holds about an investor, exported by GET users/me/export and closed by
# DELETE users/me (users.account): modules with account_export(*, user) and
# account_close(*, user, liquidate).
ACCOUNT_DATA_MODULES = [
    "portfolios.account",
    "rebalancer.autopilot.account",
    "rebalancer.backtests.account",
]
from rebalancer.settings.integrations.push import *  # noqa: E402,F403
