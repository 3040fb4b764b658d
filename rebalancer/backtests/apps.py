from django.apps import AppConfig


class BacktestsConfig(AppConfig):
    """Backtests: the production pipeline replayed over stored history."""

    name = "rebalancer.backtests"
    label = "backtests"
    default_auto_field = "django.db.models.BigAutoField"
