"""Default schedule of the risk app (synced into django-celery-beat by ``setup_schedules``)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "risk: nightly snapshots and alerts": {
        "task": "risk.risk_snapshots_take_task",
        # 23:15 UTC Mon-Fri: after the market-data pull at 22:30 has stored the day's bars.
        "schedule": crontab(minute=15, hour=23, day_of_week="mon-fri"),
        "kwargs": {},
        "description": "Store a RiskSnapshot (1- and 5-day VaR, ES, beta, tracking error, drawdown, "
        "Sharpe, Sortino) per portfolio and raise or resolve risk alerts.",
    },
}
