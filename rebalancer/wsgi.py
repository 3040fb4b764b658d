"""WSGI entry point for gunicorn: ``gunicorn rebalancer.wsgi``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault(
    "DJANGO_SETTINGS_MODULE",
    "rebalancer.settings.production"
    if os.environ.get("DJANGO_ENV") == "production"
    else "rebalancer.settings.dev",
)
application = get_wsgi_application()

# Import every view now rather than in the first request (about 4 s of cvxpy, torch...), so
# the first phone to call after a deploy does not hit its HTTP timeout.
from django.urls import get_resolver  # noqa: E402

get_resolver().url_patterns  # noqa: B018
