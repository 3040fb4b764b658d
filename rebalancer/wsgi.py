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
