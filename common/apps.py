from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_schedules(sender: AppConfig, **kwargs: object) -> None:
    from common.beat import schedules_sync

    schedules_sync()


class CommonConfig(AppConfig):
    """Infrastructure below every app: errors, API helpers, beat schedule sync."""

    name = "common"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # After the last app migrates, the default schedule exists on a fresh database.
        # post_migrate is sent once per app with models; hang it on django-celery-beat's.
        from django.apps import apps

        beat = apps.get_app_config("django_celery_beat")
        post_migrate.connect(_sync_schedules, sender=beat, dispatch_uid="common.sync_schedules")
