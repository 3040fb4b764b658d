"""Default schedule of the console (synced into django-celery-beat by ``setup_schedules``)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "ops: intraday risk monitor": {
        "task": "ops.intraday_poll_task",
        # every minute of the New York session in both summer and winter time (13:30-21:00 UTC)
        "schedule": crontab(minute="*", hour="13-21", day_of_week="mon-fri"),
        "kwargs": {},
        "description": "Quote every held asset (OPS_INTRADAY_PROVIDER), re-evaluate the holders' risk "
        "limits, raise alerts and carry out their responses once per episode.",
    },
    "ops: alert responses": {
        "task": "ops.alert_responses_dispatch_task",
        "schedule": crontab(minute="*/5"),
        "kwargs": {},
        "description": "Notify investors of alerts without a response yet (the nightly ones) and run "
        "deferred de-risk cycles once the next close has landed.",
    },
    "ops: sweep stuck work": {
        "task": "ops.stuck_work_sweep_task",
        "schedule": crontab(minute="*/5"),
        "kwargs": {},
        "description": "Re-enqueue or fail backtests, cycle runs, data pulls and training stuck past "
        "their deadline (OPS_SWEEPER).",
    },
}
