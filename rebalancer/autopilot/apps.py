from django.apps import AppConfig


class AutopilotConfig(AppConfig):
    """The rebalancing pipeline that ties the apps together, its scheduling and API."""

    name = "rebalancer.autopilot"
    label = "autopilot"
    default_auto_field = "django.db.models.BigAutoField"
