from celery.schedules import crontab

BEAT_SCHEDULE = {
    "users: flush expired refresh tokens": {
        "task": "users.tokens_flush_expired_task",
        "schedule": crontab(minute=15, hour=3),
    },
}
