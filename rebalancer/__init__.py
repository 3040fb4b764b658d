"""Project package: settings, root urls, the Celery app, the autopilot and backtests.

The Celery app is not imported here: importing any ``rebalancer.*`` module (the pure
autopilot and backtest engines among them) would otherwise load Celery and, through its
Django fix-up, ``django.*``. It is loaded where it is needed instead:

* ``celery -A rebalancer`` (worker, beat, inspect) finds it itself: Celery looks for
  ``rebalancer.app``, ``rebalancer.celery``, then imports the ``rebalancer.celery`` module;
* every Django process (web, commands, tests, the worker) imports it in
  ``rebalancer.ops.apps.OpsConfig.ready`` so that ``@shared_task`` tasks bind to it;
* ``rebalancer.celery_app`` still works, resolved on first access.
"""

from __future__ import annotations

from typing import Any

__all__ = ("celery_app",)


def __getattr__(name: str) -> Any:
    if name == "celery_app":
        from rebalancer.celery import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
