"""The Celery app: configured from Django settings (``CELERY_*``), tasks autodiscovered.

Queues, routes and delivery settings are in ``rebalancer/settings/integrations/queues.py``.
At start-up a worker sizes its redelivery to the queues it consumes (``-Q``):

* ``visibility_timeout`` — the largest of its queues' (``CELERY_QUEUE_VISIBILITY_TIMEOUTS``),
  so a message is redelivered only after the longest task it may be running has hit its
  time limit;
* the Redis keys of its unacknowledged messages (``unacked:<queues>``) — a ``cycle``
  worker, with its minutes of visibility, must not put back an hour-long backtest that a
  ``heavy`` worker is still running; each class of worker restores only its own.

Run a worker per queue in production, e.g.
``celery -A rebalancer worker -Q cycle --without-gossip --without-mingle`` (``Procfile``).
Gossip and mingle are left out: nothing here uses them, and gossip's restart after a lost
broker connection is where kombu fails with ``'NoneType' object has no attribute ...``.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import celeryd_init

os.environ.setdefault(
    "DJANGO_SETTINGS_MODULE",
    "rebalancer.settings.production"
    if os.environ.get("DJANGO_ENV") == "production"
    else "rebalancer.settings.dev",
)

app = Celery("rebalancer")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def worker_queues(option: object, default: str) -> list[str]:
    """The queue names of a worker's ``-Q`` option (a list or a comma-separated string)."""
    if not option:
        return [default]
    names = option.split(",") if isinstance(option, str) else list(option)  # type: ignore[arg-type]
    return sorted({name.strip() for name in names if name and name.strip()})


def delivery_options(queues: list[str], conf) -> dict:
    """Broker transport options of a worker consuming ``queues``."""
    from django.conf import settings

    timeouts = getattr(settings, "CELERY_QUEUE_VISIBILITY_TIMEOUTS", {})
    fallback = conf.broker_transport_options.get("visibility_timeout", 3600)
    visibility = max(timeouts.get(q, fallback) for q in queues)
    suffix = "+".join(queues)
    return {
        **conf.broker_transport_options,
        "visibility_timeout": visibility,
        "unacked_key": f"unacked:{suffix}",
        "unacked_index_key": f"unacked_index:{suffix}",
        "unacked_mutex_key": f"unacked_mutex:{suffix}",
        # Sweep for abandoned messages often enough that the bound is the timeout itself.
        "unacked_restore_interval": max(1, min(conf.broker_transport_options.get("unacked_restore_interval", 10), visibility // 4)),
    }


@celeryd_init.connect
def _size_redelivery(sender=None, conf=None, options=None, **kwargs) -> None:
    queues = worker_queues((options or {}).get("queues"), conf.task_default_queue)
    if not (options or {}).get("queues"):
        # A worker without -Q consumes every queue (development): one key for all.
        queues = sorted(q.name for q in conf.task_queues or []) or queues
    conf.broker_transport_options = delivery_options(queues, conf)
