"""python manage.py audit_ledger [--portfolio ID] — check every ledger invariant; exit 1 on violations."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandParser

from portfolios.models import Portfolio
from portfolios.services import ledger_audit


class Command(BaseCommand):
    help = (
        "Check the ledger: cash vs movements and trades, positions vs lots, trades and splits, lots vs closings, "
        "wash sales, dividends, and that statements and tax reports reconcile with it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--portfolio", type=int, help="Audit only this portfolio id.")
        parser.add_argument(
            "--no-statements", action="store_true",
            help="Skip reconciling each portfolio's statement and yearly tax reports (a few queries each).",
        )

    def handle(self, *args, **options) -> None:
        portfolio = None
        if options.get("portfolio"):
            portfolio = Portfolio.objects.filter(pk=options["portfolio"]).first()
            if portfolio is None:
                self.stderr.write(f"portfolio {options['portfolio']} does not exist")
                sys.exit(2)
        violations = ledger_audit(portfolio=portfolio, statements=not options.get("no_statements"))
        count = Portfolio.objects.count() if portfolio is None else 1
        if not violations:
            self.stdout.write(self.style.SUCCESS(f"ledger OK: {count} portfolio(s), no violations"))
            return
        for v in violations:
            self.stderr.write(
                f"portfolio {v.portfolio_id}: {v.code}: {v.message} (expected {v.expected}, actual {v.actual})"
            )
        self.stderr.write(self.style.ERROR(f"{len(violations)} violation(s)"))
        sys.exit(1)
