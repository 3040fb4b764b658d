"""Celery queues, routes and at-least-once delivery with a bounded redelivery time.

Three queues, each with its own workers in production (``Procfile``, ``deploy/``):

* ``cycle`` — the daily autonomous cycle (fan-out and per-chunk tasks): short tasks
  whose lateness investors see;
* ``heavy`` — backtests and training (agents, regime models): minutes to an hour each,
  so thirty of them cannot delay a cycle chunk;
* ``default`` — the rest (market-data pull, snapshots, risk snapshots, regime detection,
  token clean-up).

Delivery: money tasks are ``acks_late`` (acknowledged after they finish); a worker that
dies leaves its message unacknowledged in Redis, and a surviving worker puts it back
on the queue once it is older than the queue's **visibility timeout** — the bound on
redelivery. The timeout must exceed the longest task of the queue, or a task still
running would be delivered a second time, so each queue has its own (the cycle's
minutes, not the backtests' hour): a worker consumes its queues' unacknowledged
messages under its own Redis key (``rebalancer.celery``: set from ``-Q`` at start-up).

``CELERY_*`` variables override every number (the fault tests shrink them to seconds).
"""

from kombu import Exchange, Queue

from rebalancer.settings.base import env

CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_DEFAULT_EXCHANGE = "default"
CELERY_TASK_DEFAULT_ROUTING_KEY = "default"
# Each queue bound to its own exchange and key: a queue declared by name only would be
# bound to the default exchange's key, and every message would land in all three.
CELERY_TASK_QUEUES = [Queue(name, Exchange(name, type="direct"), routing_key=name) for name in ("cycle", "heavy", "default")]
CELERY_TASK_ROUTES = {
    "autopilot.*": {"queue": "cycle"},
    "backtests.*": {"queue": "heavy"},
    "mlagents.*": {"queue": "heavy"},
    "regime.regime_models_retrain_task": {"queue": "heavy"},
}

# Hard time limit of one task, per queue (seconds); the visibility timeout adds a margin.
CELERY_QUEUE_TIME_LIMITS = {
    "cycle": env.int("CELERY_CYCLE_TIME_LIMIT", default=15 * 60),
    "heavy": env.int("CELERY_HEAVY_TIME_LIMIT", default=60 * 60),
    "default": env.int("CELERY_DEFAULT_TIME_LIMIT", default=30 * 60),
}
CELERY_VISIBILITY_MARGIN_S = env.int("CELERY_VISIBILITY_MARGIN_S", default=5 * 60)
CELERY_QUEUE_VISIBILITY_TIMEOUTS = {
    queue: env.int(f"CELERY_{queue.upper()}_VISIBILITY_TIMEOUT", default=limit + CELERY_VISIBILITY_MARGIN_S)
    for queue, limit in CELERY_QUEUE_TIME_LIMITS.items()
}
CELERY_TASK_ANNOTATIONS = {
    **{name: {"time_limit": CELERY_QUEUE_TIME_LIMITS["cycle"]} for name in (
        "autopilot.cycle_run_all_task", "autopilot.cycle_run_chunk_task", "autopilot.cycle_run_task",
    )},
}
CELERY_TASK_TIME_LIMIT = max(CELERY_QUEUE_TIME_LIMITS.values())

# A worker reserves one message per process at a time: an acks_late task prefetched by a
# worker that dies waits out the visibility timeout, so no more than one per process.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task that raised or hit its time limit is acknowledged (not redelivered): its service
# recorded the failure (cycle runs, backtests) and a redelivery would fail the same way,
# forever. Only a lost worker (killed, out of memory) leaves the message for redelivery.
CELERY_TASK_ACKS_ON_FAILURE_OR_TIMEOUT = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# On a lost broker connection, running acks_late tasks go on (they are also put back on
# the queue): a backtest or a cycle chunk finishes once, and the redelivered copy finds it
# claimed or done (their services are idempotent). Cancelling them would leave a backtest
# "running" with nobody running it.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False

# Connecting: retry at start-up and while running, forever (a worker must outlive a Redis
# restart); bounded socket waits so a dead connection is noticed; publishing from a web
# request retries briefly, then the API answers 503 (common.faults).
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=3.0)
CELERY_BROKER_HEARTBEAT = 0  # AMQP only; Redis health comes from health_check_interval
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": max(CELERY_QUEUE_VISIBILITY_TIMEOUTS.values()),
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
    "unacked_restore_throttle": 1,
    "socket_timeout": env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=15.0),
    "socket_connect_timeout": env.float("CELERY_BROKER_SOCKET_CONNECT_TIMEOUT", default=3.0),
    "socket_keepalive": True,
    "health_check_interval": 10,
    "retry_on_timeout": True,
}
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": env.int("CELERY_PUBLISH_MAX_RETRIES", default=2),
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
CELERY_REDIS_SOCKET_TIMEOUT = env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=15.0)
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = env.float("CELERY_BROKER_SOCKET_CONNECT_TIMEOUT", default=3.0)
CELERY_REDIS_RETRY_ON_TIMEOUT = True
CELERY_RESULT_BACKEND_ALWAYS_RETRY = True
CELERY_RESULT_BACKEND_MAX_RETRIES = 10
CELERY_RESULT_EXPIRES = 60 * 60 * 24
