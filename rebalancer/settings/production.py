"""Production: PostgreSQL, Redis, secure cookies and HSTS; refuses to start without secrets.

``python manage.py check --deploy`` passes with no warnings in this mode.
"""

from django.core.exceptions import ImproperlyConfigured

from rebalancer.settings.base import *  # noqa: F403
from rebalancer.settings.base import env

try:
    SECRET_KEY = env("DJANGO_SECRET_KEY")
except ImproperlyConfigured as exc:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set in production (50+ random characters)."
    ) from exc
if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY is too short or too simple (need 50+ characters).")
SIMPLE_JWT["SIGNING_KEY"] = env("JWT_SIGNING_KEY", default=SECRET_KEY)  # noqa: F405

DEBUG = False
IS_PRODUCTION = True  # e.g. `manage.py demo` refuses to run (marketdata demo command)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Trust X-Forwarded-Proto only when a TLS-terminating proxy of ours sets it (and strips a
# client's): DJANGO_SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto. Unset, any client could
# claim "https" and skip the redirect.
_proxy_ssl_header = env("DJANGO_SECURE_PROXY_SSL_HEADER", default="")
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https") if _proxy_ssl_header else None
)
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health/$"]  # probes on the host speak plain HTTP
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# /metrics is closed without METRICS_TOKEN in production (rebalancer.settings.integrations.ops).
METRICS_OPEN_WITHOUT_TOKEN = env.bool("METRICS_OPEN_WITHOUT_TOKEN", default=False)
# Broker credentials are encrypted with keys of their own, never derived from SECRET_KEY here.
if not env.list("BROKER_CREDENTIALS_KEYS", default=[]):
    raise ImproperlyConfigured("BROKER_CREDENTIALS_KEYS must be set in production (Fernet keys, comma-separated).")

# Emails (password reset, verification, account notices) go out by SMTP (EMAIL_HOST...) unless
# EMAIL_BACKEND names another backend: the console backend of dev would drop them silently.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
