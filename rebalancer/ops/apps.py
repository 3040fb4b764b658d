from django.apps import AppConfig


class OpsConfig(AppConfig):
    """The operator's console: dashboard, audited actions, metrics, intraday risk, sweeper."""

    name = "rebalancer.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        # Observability hooks only (no business logic): the project's Prometheus collectors,
        # the request id carried into Celery tasks, and the per-task failure counter.
        from rebalancer.ops import logs, metrics

        metrics.collectors_register()
        logs.celery_signals_connect()
