"""Celery: Redis broker when configured, otherwise tasks run in process (eager)."""

from rebalancer.settings.base import REDIS_URL, env

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL or "cache+memory://")
# Without a broker, tasks run in the calling process: the embedded default for the demo
# and the fast tests. A real broker switches to real workers.
CELERY_TASK_ALWAYS_EAGER = env.bool(
    "CELERY_TASK_ALWAYS_EAGER", default=CELERY_BROKER_URL.startswith("memory://")
)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = False  # money-touching tasks opt in with acks_late=True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=60 * 60)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Without a broker, long tasks (a backtest) enqueued through common.tasks.task_enqueue_on_commit
# run on a background thread after the response instead of inside the request.
TASKS_EAGER_IN_BACKGROUND = env.bool("TASKS_EAGER_IN_BACKGROUND", default=True)
TASKS_BACKGROUND_THREADS = env.int("TASKS_BACKGROUND_THREADS", default=1)
