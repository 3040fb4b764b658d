from django.core.management.base import BaseCommand

from common.beat import schedules_sync


class Command(BaseCommand):
    help = "Create or update the default Celery beat entries of every app (idempotent)."

    def handle(self, *args: object, **options: object) -> None:
        for name in schedules_sync():
            self.stdout.write(f"scheduled: {name}")
