from django.apps import AppConfig


class MarketdataConfig(AppConfig):
    name = "marketdata"
    default_auto_field = "django.db.models.BigAutoField"
