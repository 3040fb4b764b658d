from django.apps import AppConfig


class RegimeConfig(AppConfig):
    """Market regime detection (HMM), its history and the adaptive strategy policy."""

    name = "mlagents.regime"
    label = "regime"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from mlagents.regime.strategies import strategies_register

        strategies_register()
