"""Abuse resistance and bad-input limits: proxies, throttle rates, request limits, headers.

Read with the rest of ``base``; ``production`` adds the TLS settings. Every value is an
environment variable (README lists them). The promises and the tests that hold them
are in ``docs/RELIABILITY.md``.
"""

from datetime import timedelta

from csp.constants import NONE, SELF

from rebalancer.settings.base import (
    AUTH_PASSWORD_VALIDATORS,
    CACHES,
    INSTALLED_APPS,
    MIDDLEWARE,
    env,
)

IS_PRODUCTION = False  # production.py sets True

# --- proxies -------------------------------------------------------------------------
# How many reverse proxies of ours append to X-Forwarded-For. 0 (default): the client is
# REMOTE_ADDR and the header is ignored, so a client cannot pick its own throttle bucket.
# Behind one nginx/ALB, set DJANGO_NUM_PROXIES=1. DRF and the admin's lock-out share it.
NUM_PROXIES = env.int("DJANGO_NUM_PROXIES", default=0)

# --- request limits (common.middleware.RequestLimitsMiddleware) --------------------------
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
API_MAX_URL_CHARS = env.int("API_MAX_URL_CHARS", default=4096)
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=32)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(API_MAX_BODY_BYTES, 2_621_440)
DEPENDENCY_RETRY_AFTER_S = env.int("DEPENDENCY_RETRY_AFTER_S", default=5)
# A Redis that stops answering must fail a request in seconds (503), not hang a worker.
if CACHES["default"]["BACKEND"].endswith("RedisCache"):
    CACHES["default"].setdefault("OPTIONS", {}).update(
        {"socket_connect_timeout": env.float("REDIS_CONNECT_TIMEOUT", default=2.0),
         "socket_timeout": env.float("REDIS_SOCKET_TIMEOUT", default=2.0)}
    )

# --- throttle rates (common.throttling); "N/second|minute|hour|day" ----------------------
THROTTLE_RATES = {
    # every API call, per user (authenticated) or per client IP (anonymous)
    "user": env("THROTTLE_USER", default="600/minute"),
    "anon": env("THROTTLE_ANON", default="120/minute"),
    # heavier scopes per user: optimizers, VaR/stress/risk, predict, charts; backtest starts
    "compute": env("THROTTLE_COMPUTE", default="30/minute"),
    "backtests": env("THROTTLE_BACKTESTS", default="20/hour"),
    # auth endpoints: per client IP and per account (email, or the refresh token's user)
    "auth_login": env("THROTTLE_LOGIN", default="10/minute"),  # each allowed guess costs a password hash
    "auth_login_account": env("THROTTLE_LOGIN_ACCOUNT", default="10/hour"),
    "auth_register": env("THROTTLE_REGISTER", default="10/hour"),
    "auth_register_account": env("THROTTLE_REGISTER_ACCOUNT", default="5/hour"),
    "auth_refresh": env("THROTTLE_REFRESH", default="60/minute"),
    "auth_refresh_account": env("THROTTLE_REFRESH_ACCOUNT", default="30/minute"),
    "auth_password_reset": env("THROTTLE_PASSWORD_RESET", default="10/hour"),
    "auth_password_reset_account": env("THROTTLE_PASSWORD_RESET_ACCOUNT", default="3/hour"),
    "auth_password_change": env("THROTTLE_PASSWORD_CHANGE", default="10/hour"),
    # the emailed links (reset confirm, email verification): per IP and per link's uid
    "auth_link": env("THROTTLE_AUTH_LINK", default="30/hour"),
    "auth_link_account": env("THROTTLE_AUTH_LINK_ACCOUNT", default="10/hour"),
}
THROTTLE_CLASSES = ["common.throttling.UserThrottle", "common.throttling.ScopedUserThrottle"]
# Backtests queued or running at once per user (rebalancer.backtests.services).
BACKTESTS_MAX_ACTIVE_PER_USER = env.int("BACKTESTS_MAX_ACTIVE_PER_USER", default=3)

# --- passwords ---------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    *AUTH_PASSWORD_VALIDATORS,
    {"NAME": "users.password_validation.NotOnlyWhitespaceValidator"},
]

# --- the admin's login: django-axes locks out by IP or by account ------------------------
INSTALLED_APPS = [*INSTALLED_APPS, "axes"]
AUTHENTICATION_BACKENDS = [
    "users.auth_backends.AdminLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ONLY_ADMIN_SITE = True  # the API's login has its own throttles (auth_login*)
AXES_HANDLER = "users.auth_backends.AdminOnlyAxesHandler"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]  # either one reaching the limit locks
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_CLIENT_IP_CALLABLE = "common.throttling.client_ip"
AXES_USERNAME_FORM_FIELD = "username"
AXES_VERBOSE = False

# --- headers -----------------------------------------------------------------------------
# The API serves JSON and PNG; the admin and the Swagger UI (split view: no inline script)
# load their own static files. Inline styles stay allowed for the admin's widgets.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Right after Django's SecurityMiddleware (its headers and redirect apply to our answers);
# axes last, as it asks: it turns a lock-out into a 429.
_after = MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1
MIDDLEWARE = [
    *MIDDLEWARE[:_after],
    "csp.middleware.CSPMiddleware",
    "common.middleware.SecurityHeadersMiddleware",
    "common.middleware.RequestLimitsMiddleware",
    *MIDDLEWARE[_after:],
    "axes.middleware.AxesMiddleware",
]

# --- DRF: the client IP rule, the throttles, the token denylist, documented statuses -----
# drf.py holds the rest of REST_FRAMEWORK; these keys are this file's.
from rebalancer.settings.integrations.drf import DRF_STANDARDIZED_ERRORS, REST_FRAMEWORK  # noqa: E402

REST_FRAMEWORK["NUM_PROXIES"] = NUM_PROXIES
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = THROTTLE_CLASSES
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {**REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **THROTTLE_RATES}
# simplejwt's authentication, plus the denylist of logged-out sessions (users.tokens).
REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"] = ["users.tokens.DenylistJWTAuthentication"]
# 413/414 (RequestLimitsMiddleware) and 503 (common.faults) can answer any operation.
for _code in ("413", "414", "503"):
    if _code not in DRF_STANDARDIZED_ERRORS["ALLOWED_ERROR_STATUS_CODES"]:
        DRF_STANDARDIZED_ERRORS["ALLOWED_ERROR_STATUS_CODES"].append(_code)
    DRF_STANDARDIZED_ERRORS["ERROR_SCHEMAS"].setdefault(_code, "common.api.ErrorResponseSerializer")
