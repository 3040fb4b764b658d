"""``python manage.py autopilot [--as-of DATE] [--portfolio ID]``: run one cycle now.

The same code the scheduler runs (``cycle_run_all`` inline, one shared context), with a
progress bar and a summary; ``--portfolio`` limits it to some portfolios (repeatable),
``--force`` reviews them even without a trigger.
"""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from common.errors import ApplicationError
from rebalancer.autopilot.services import cycle_run_all, cycle_run_many, eligible_portfolio_ids


class Command(BaseCommand):
    help = "Run one autonomous rebalancing cycle now and print a summary."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--as-of", dest="as_of", help="YYYY-MM-DD (default: last date with prices)")
        parser.add_argument("--portfolio", dest="portfolios", type=int, action="append", help="portfolio id (repeatable)")
        parser.add_argument("--force", action="store_true", help="review even without a trigger")
        parser.add_argument("--chunk-size", type=int, default=500)

    def handle(self, *args, **options) -> None:
        try:
            as_of = date.fromisoformat(options["as_of"]) if options["as_of"] else None
        except ValueError as exc:
            raise CommandError(f"--as-of must be a date YYYY-MM-DD: {exc}") from exc
        portfolios = options["portfolios"]
        try:
            if options["force"] and portfolios:
                from portfolios.services import corporate_actions_apply, ledger_as_of_check
                from rebalancer.autopilot.services import latest_market_date

                day = as_of or latest_market_date()
                if day is None:
                    raise CommandError("there are no prices yet; pull market data first")
                ledger_as_of_check(as_of=day, portfolio_ids=portfolios)
                corporate_actions_apply(as_of=day)
                results = cycle_run_many(portfolio_ids=portfolios, as_of=day, force=True)
                self._print(day, results)
                return
            total = len(eligible_portfolio_ids(portfolio_ids=portfolios))
            with tqdm(total=total, desc="autopilot", unit="portfolio", disable=total < 2) as bar:
                summary = cycle_run_all(
                    as_of=as_of, portfolio_ids=portfolios, chunk_size=options["chunk_size"],
                    progress=bar.update,
                )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self._print(summary.as_of, summary.results)

    def _print(self, as_of: date, results) -> None:
        counts: dict[str, int] = {}
        for r in results:
            key = r.action or r.status
            counts[key] = counts.get(key, 0) + 1
        self.stdout.write(f"Autopilot cycle for {as_of.isoformat()}: {len(results)} portfolio(s)")
        for key in sorted(counts):
            self.stdout.write(f"  {key}: {counts[key]}")
        for r in results[:50]:
            line = f"  portfolio #{r.portfolio_id}: {r.status} {r.action} trades={r.trades_count}"
            if r.error:
                line += f" error={r.error}"
            self.stdout.write(line)
            if r.summary and r.action not in ("", "hold"):
                self.stdout.write(f"    {r.summary}")
