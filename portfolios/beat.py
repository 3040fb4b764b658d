"""Default schedule of the portfolios app (synced by ``python manage.py setup_schedules``)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "portfolios: daily value snapshots": {
        "task": "portfolios.snapshots_take_task",
        # 23:50 UTC Mon-Fri: after the data pull (22:30) and the autopilot cycle (23:30),
        # so the day's snapshot includes the day's trades.
        "schedule": crontab(minute=50, hour=23, day_of_week="mon-fri"),
        "kwargs": {},
    },
}
