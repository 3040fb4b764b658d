"""``python manage.py import_prices PATH [--format wide|long]``: import a price file, all or nothing."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from common.errors import ApplicationError
from marketdata.services import prices_import_csv


class Command(BaseCommand):
    help = (
        "Import daily prices from a CSV file. wide: a 'date' column and one adjusted-close column per "
        "symbol (open/high/low/close = adjusted close, volume 0); long: date,symbol,open,high,low,close,"
        "volume[,adj_close]. Empty cells mean no quote. All or nothing: a bad row imports nothing and the "
        "error names the line and column. Re-importing the same file changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--format", choices=["wide", "long"], default="wide", dest="fmt")
        parser.add_argument("--no-progress", action="store_true", help="Do not show a progress bar.")

    def handle(self, *args, path: str, fmt: str, no_progress: bool, **options):
        bar = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if no_progress:
                return
            if bar is None:
                bar = tqdm(total=total, unit="bar", desc="writing", file=self.stderr._out, leave=False)
            bar.update(done - bar.n)

        try:
            result = prices_import_csv(path=path, fmt=fmt, progress=progress)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        finally:
            if bar is not None:
                bar.close()
        created = f"; new assets: {', '.join(result.assets_created)}" if result.assets_created else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.rows} bars read: {result.inserted} inserted, {result.updated} updated, "
                f"{result.unchanged} unchanged{created} (data pull #{result.pull.pk})"
            )
        )
