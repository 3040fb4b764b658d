"""python manage.py broker_sync [--portfolio ID] [--every SECONDS] — poll orders, record fills.

What beat's ``portfolios.orders_sync_task`` does every minute, by hand: poll each open
order at its broker, record new fills in the ledger, send orders held for the open.
``--every`` repeats until interrupted (Ctrl-C).
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandParser

from portfolios.services.orders import orders_sync


class Command(BaseCommand):
    help = "Poll open broker orders once (or every N seconds): record fills, submit held orders."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--portfolio", type=int, action="append", help="Only this portfolio id (repeatable).")
        parser.add_argument("--every", type=float, default=0, help="Repeat every N seconds until interrupted.")

    def handle(self, *args, **options) -> None:
        while True:
            summary = orders_sync(portfolio_ids=options.get("portfolio"))
            self.stdout.write(
                f"accounts {summary.accounts}, polled {summary.polled}, fills {summary.fills}, "
                f"submitted {summary.submitted}, held {summary.held}"
                + (f", errors: {'; '.join(summary.errors)}" if summary.errors else "")
            )
            if not options["every"]:
                return
            time.sleep(options["every"])
