"""Sync the default beat schedule (every app's ``<app>/beat.py``) into django-celery-beat.

Each app declares ``BEAT_SCHEDULE = {name: {"task", "schedule": crontab(...), "kwargs"?}}``;
``schedules_sync`` creates or updates a ``PeriodicTask`` per entry, idempotently. It
runs after every ``migrate`` (post_migrate) so a fresh database has the schedule, and
as ``python manage.py setup_schedules``. Operators may disable an entry in the admin:
a sync keeps ``enabled`` as the operator left it.
"""

from __future__ import annotations

import json
from importlib import import_module
from typing import Any

from celery.schedules import crontab
from django.apps import apps

BEAT_SCHEDULE = {
    "common: purge expired idempotency keys": {
        "task": "common.idempotency_keys_purge_task",
        "schedule": crontab(minute=17),  # hourly
        "kwargs": {},
        "description": "Delete Idempotency-Keys older than 24 hours (their responses are no longer replayed).",
    },
}


def default_schedule() -> dict[str, dict[str, Any]]:
    schedule: dict[str, dict[str, Any]] = {}
    for config in apps.get_app_configs():
        try:
            module = import_module(f"{config.name}.beat")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.beat":
                raise
            continue
        schedule.update(getattr(module, "BEAT_SCHEDULE", {}))
    return schedule


def schedules_sync() -> list[str]:
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    names = []
    for name, entry in default_schedule().items():
        cron = entry["schedule"]
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=cron._orig_minute,
            hour=cron._orig_hour,
            day_of_week=cron._orig_day_of_week,
            day_of_month=cron._orig_day_of_month,
            month_of_year=cron._orig_month_of_year,
            timezone="UTC",
        )
        PeriodicTask.objects.update_or_create(
            name=name,
            defaults={
                "task": entry["task"],
                "crontab": crontab,
                "kwargs": json.dumps(entry.get("kwargs", {})),
                "description": entry.get("description", ""),
            },
        )
        names.append(name)
    return names
