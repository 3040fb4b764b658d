"""Default schedule of the regime app (synced into django-celery-beat by setup_schedules)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "regime: detect the market regime": {
        "task": "regime.regime_detect_task",
        # 23:15 UTC Mon-Fri: after the daily bar pull (marketdata, 22:30 UTC) and before
        # the autopilot cycle, so a regime change can trigger that night's rebalancing.
        "schedule": crontab(minute=15, hour=23, day_of_week="mon-fri"),
        "kwargs": {},
        "description": "Filter the new days with the active HMM and record MarketRegime rows.",
    },
    "regime: retrain the detector": {
        "task": "regime.regime_models_retrain_task",
        # Saturdays 06:00 UTC: weekly refit on the training window, off market hours.
        "schedule": crontab(minute=0, hour=6, day_of_week="sat"),
        "kwargs": {},
        "description": "Refit the 3-state HMM of each reference market and store it (parameters and labels).",
    },
}
