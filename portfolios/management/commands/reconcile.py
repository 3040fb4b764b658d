"""python manage.py reconcile [--portfolio ID] — broker positions and cash vs the ledger, now.

Exit 1 when a mismatch was found (each one is in the admin, autonomy paused), 2 on a bad id.
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandParser

from portfolios.models import Portfolio, Reconciliation
from portfolios.services.reconciliation import reconciliation_run, reconciliations_run_all


class Command(BaseCommand):
    help = "Reconcile broker portfolios (all, or one): positions and cash at the broker vs the ledger."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--portfolio", type=int, help="Reconcile only this portfolio id.")

    def handle(self, *args, **options) -> None:
        if options.get("portfolio"):
            portfolio = Portfolio.objects.filter(pk=options["portfolio"], broker_account__isnull=False).first()
            if portfolio is None:
                self.stderr.write(f"portfolio {options['portfolio']} does not exist or has no broker account")
                sys.exit(2)
            rows = [reconciliation_run(portfolio=portfolio, trigger="on_demand")]
        else:
            rows = reconciliations_run_all(trigger="on_demand")
        for row in rows:
            line = f"portfolio #{row.portfolio_id}: {row.status} (reconciliation #{row.pk})"
            if row.status == Reconciliation.Status.MISMATCH:
                line += f"; cash difference {row.cash_difference}"
                line += "".join(f"; {d['symbol']} broker minus ledger {d['difference']}" for d in row.differences)
            elif row.error:
                line += f": {row.error}"
            self.stdout.write(line)
        if any(r.status == Reconciliation.Status.MISMATCH for r in rows):
            sys.exit(1)
