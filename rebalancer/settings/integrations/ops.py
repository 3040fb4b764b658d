"""The operator's console: ``/metrics`` access, JSON logs with request ids, intraday
monitoring and the sweeper's deadlines."""

from rebalancer.settings.base import LOGGING, env

# /metrics: a bearer token (``Authorization: Bearer $METRICS_TOKEN``). Without a token the
# endpoint is open in development and closed (403) in production (production.py).
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_OPEN_WITHOUT_TOKEN = env.bool("METRICS_OPEN_WITHOUT_TOKEN", default=True)

# Logs: one JSON object per line with the request id (and the Celery task) of the record;
# LOG_FORMAT=plain for a human at a terminal.
LOG_FORMAT = env("LOG_FORMAT", default="json")
LOGGING.setdefault("filters", {})["request_id"] = {"()": "rebalancer.ops.logs.RequestIdFilter"}
LOGGING["formatters"]["json"] = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(task_id)s %(task_name)s",
    "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
}
LOGGING["handlers"]["console"]["filters"] = ["request_id"]
LOGGING["handlers"]["console"]["formatter"] = "json" if LOG_FORMAT == "json" else "plain"

# Intraday risk: quotes from this provider (default: the daily one, MARKETDATA_PROVIDER).
OPS_INTRADAY_PROVIDER = env("OPS_INTRADAY_PROVIDER", default="")
# Bar length asked of it: beat polls every minute, so 1-minute bars reach the monitor within
# about a minute of a move (5-minute bars lagged up to six).
OPS_INTRADAY_INTERVAL_MINUTES = env.int("OPS_INTRADAY_INTERVAL_MINUTES", default=1)

# Sweeper deadlines in minutes (rebalancer.ops.services.sweeper.SweeperRules).
OPS_SWEEPER = {
    "queued_after": env.float("OPS_SWEEP_QUEUED_AFTER_MIN", default=15),
    "running_after": env.float("OPS_SWEEP_RUNNING_AFTER_MIN", default=60),
    "pending_after": env.float("OPS_SWEEP_PENDING_AFTER_MIN", default=30),
    "training_after": env.float("OPS_SWEEP_TRAINING_AFTER_MIN", default=360),
}
