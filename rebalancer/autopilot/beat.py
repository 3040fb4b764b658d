"""Default schedule of the autopilot (synced into django-celery-beat by
``python manage.py setup_schedules``)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "autopilot: daily rebalancing cycle": {
        "task": "autopilot.cycle_run_all_task",
        # 23:30 UTC Mon-Fri: an hour after the market-data pull (22:30), so the cycle
        # decides on the day's closes. A late pull only makes the cycle skip portfolios
        # with stale prices (recorded); a rerun the same day finishes the rest once.
        "schedule": crontab(minute=30, hour=23, day_of_week="mon-fri"),
        "kwargs": {},
        "description": "Run the autonomous rebalancing cycle for every portfolio whose "
        "autonomy is on, fanned out per chunk of portfolios.",
    },
    "autopilot: push outbox": {
        "task": "autopilot.push_outbox_process_task",
        "schedule": crontab(minute="*"),
        "kwargs": {},
        "description": "Send due push notifications: retries of failed attempts, and any whose "
        "task was lost (each enqueue also triggers a run).",
    },
}
