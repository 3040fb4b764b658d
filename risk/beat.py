"""Default schedule of the risk app (synced into django-celery-beat by ``setup_schedules``)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "risk: nightly snapshots and alerts": {
        "task": "risk.risk_snapshots_take_task",
        # 23:55 UTC Mon-Fri: after the day's bars (22:30), the autopilot cycle (23:30) and the
        # portfolio value snapshots (23:50), so the risk and the drawdown are of the day's
        # final holdings and value.
        "schedule": crontab(minute=55, hour=23, day_of_week="mon-fri"),
        "kwargs": {},
        "description": "Store a RiskSnapshot (1- and 5-day VaR, ES, beta, tracking error, drawdown, "
        "Sharpe, Sortino) per portfolio and raise or resolve risk alerts.",
    },
    "risk: nightly VaR backtests": {
        "task": "risk.var_backtests_record_task",
        # 00:40 UTC Tue-Sat: after the risk snapshots (23:55), so the day's final holdings are
        # replayed; a portfolio takes ~0.3 s (GARCH refits), docs/VAR_BACKTEST.md has the budget.
        "schedule": crontab(minute=40, hour=0, day_of_week="tue-sat"),
        "kwargs": {},
        "description": "Backtest the default VaR model (Kupiec, Christoffersen, Basel zone per 250-day "
        "block) on every portfolio's current weights and store it (GET portfolios/{id}/risk/backtest).",
    },
}
