from django.apps import AppConfig


class MlagentsConfig(AppConfig):
    name = "mlagents"
    default_auto_field = "django.db.models.BigAutoField"
