from django.apps import AppConfig


class OpsConfig(AppConfig):
    """The operator's console: dashboard, audited actions, metrics, intraday risk, sweeper."""

    name = "rebalancer.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        # The project's Celery app first: ``rebalancer/__init__`` no longer imports it (the
        # engines under ``rebalancer/`` stay free of Celery and Django), and ``@shared_task``
        # tasks called from this process must bind to it, not to Celery's default app.
        import rebalancer.celery  # noqa: F401

        # Observability hooks only (no business logic): the project's Prometheus collectors,
        # the request id carried into Celery tasks, and the per-task failure counter.
        from rebalancer.ops import logs, metrics

        metrics.collectors_register()
        logs.celery_signals_connect()
