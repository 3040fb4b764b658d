"""Default schedule of the agents app (synced into django-celery-beat by
``python manage.py setup_schedules``)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "mlagents: weekly retrain": {
        "task": "mlagents.agents_retrain_task",
        # Sunday 03:00 UTC: markets closed, the week's bars are in.
        "schedule": crontab(minute=0, hour=3, day_of_week="sun"),
        "kwargs": {"years": 6, "holdout_days": 504, "seed": 0},
        "description": "Retrain PPO and primal-dual on the last six years (the year before last "
        "validates and gates, the last year is the reported test); a new model serves only if it "
        "beats the incumbent and the baselines on validation.",
    },
    "mlagents: learn who executes recommendations": {
        "task": "mlagents.agent_execution_fit_task",
        # daily 01:30 UTC, before the day's cycle: yesterday's approvals and rejections count
        "schedule": crontab(minute=30, hour=1),
        "kwargs": {"epochs": 200},
        "description": "Refit the active primal-dual agent's critic-y (the probability that an "
        "investor executes a recommendation) on advise-mode approvals and rejections.",
    },
}
