"""Default schedule of the market-data app (synced into django-celery-beat by
``python manage.py setup_schedules``)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "marketdata: pull daily bars": {
        "task": "marketdata.prices_pull_task",
        # 22:30 UTC Mon-Fri: after the 16:00 New York close in both summer (20:00 UTC) and
        # winter (21:00 UTC) time, with margin for providers to publish the day's bar.
        "schedule": crontab(minute=30, hour=22, day_of_week="mon-fri"),
        "kwargs": {},
        "description": "Pull new daily bars for active assets from the configured provider "
        "(MARKETDATA_PROVIDER) and record a DataPull.",
    },
}
