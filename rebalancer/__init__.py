"""Project package: settings, root urls, the Celery app, the autopilot and backtests."""

from rebalancer.celery import app as celery_app

__all__ = ("celery_app",)
