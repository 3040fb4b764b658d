"""Default schedule of the portfolios app (synced by ``python manage.py setup_schedules``)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "portfolios: apply corporate actions": {
        "task": "portfolios.corporate_actions_apply_task",
        # 22:45 UTC Mon-Fri: after the data pull (22:30) recorded the day's splits and
        # dividends, before the autopilot cycle (23:30, which applies them again first).
        "schedule": crontab(minute=45, hour=22, day_of_week="mon-fri"),
        "kwargs": {},
        "description": "Apply due splits and cash dividends to holders' ledgers (once each) and pay accrued dividends.",
    },
    "portfolios: daily value snapshots": {
        "task": "portfolios.snapshots_take_task",
        # 23:50 UTC Mon-Fri: after the data pull (22:30) and the autopilot cycle (23:30),
        # so the day's snapshot includes the day's trades.
        "schedule": crontab(minute=50, hour=23, day_of_week="mon-fri"),
        "kwargs": {},
    },
    "portfolios: poll broker orders": {
        "task": "portfolios.orders_sync_task",
        # Every minute of the US session (13:00-21:59 UTC covers 09:30-16:00 New York in
        # summer and winter): fills are recorded as they arrive, orders held for the open
        # go out at the open. Without open orders it is one query.
        "schedule": crontab(minute="*", hour="13-21", day_of_week="mon-fri"),
        "kwargs": {},
    },
    "portfolios: daily broker reconciliation": {
        "task": "portfolios.reconciliations_run_task",
        # 22:15 UTC Mon-Fri: after the close and before the autopilot cycle (23:30), so a
        # mismatch pauses the portfolio before the cycle could trade on a wrong ledger.
        "schedule": crontab(minute=15, hour=22, day_of_week="mon-fri"),
        "kwargs": {},
    },
}
