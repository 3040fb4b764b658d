from django.apps import AppConfig


class MlagentsConfig(AppConfig):
    name = "mlagents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from mlagents.strategies import register_agent_strategies

        register_agent_strategies()
