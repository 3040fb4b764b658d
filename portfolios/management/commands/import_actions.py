"""``python manage.py import_actions PATH``: record corporate actions and apply them to ledgers."""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from common.errors import ApplicationError
from portfolios.services.corporate_actions import corporate_actions_import


class Command(BaseCommand):
    help = (
        "Import corporate actions from a CSV file: date,symbol,type,value (type split with a ratio such as "
        "2, 2:1, 3/2 or 1-for-10, or dividend with the cash per share; date is the ex-date), optional "
        "pay_date, qualified (true/false) and note. All or nothing: a bad row imports nothing and the error "
        "names the line and column. Due splits and dividends are then applied to every holder's ledger, once; "
        "re-importing the same file changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--as-of", dest="as_of", help="apply actions due by this date (default: today)")

    def handle(self, *args, path: str, as_of: str | None, **options):
        try:
            day = date.fromisoformat(as_of) if as_of else None
        except ValueError as exc:
            raise CommandError(f"--as-of must be a date YYYY-MM-DD: {exc}") from exc
        try:
            result = corporate_actions_import(path=path, as_of=day)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        a = result.applied
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.rows} actions read: {result.created} new, {result.updated} updated, {result.unchanged} "
                f"unchanged; ledgers: {a.applied} splits applied, {a.accrued} dividends accrued, {a.paid} paid, "
                f"{a.not_applicable} not applicable, {a.needs_review} need review"
            )
        )
