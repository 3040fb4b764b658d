"""python manage.py calibrate_costs [--portfolio ID] — slippage bps fitted from real fills.

Prints the least-squares proportional slippage of the recorded broker fills (against the
decision prices) and the cost model it gives; pass it to a backtest as ``slippage_bps``.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from portfolios.execution_quality import cost_model_calibrate


class Command(BaseCommand):
    help = "Fit the cost model's slippage (bps) from the recorded broker fills."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--portfolio", type=int, action="append", help="Only this portfolio id (repeatable).")

    def handle(self, *args, **options) -> None:
        model, fit = cost_model_calibrate(portfolio_ids=options.get("portfolio"))
        if fit is None:
            self.stdout.write("no filled broker orders yet: keep the configured cost model")
            return
        self.stdout.write(
            f"slippage_bps {fit.slippage_bps:.3f} (raw {fit.raw_bps:.3f}) from {fit.orders} filled orders, "
            f"{fit.notional} notional; residual {fit.residual_bps:.1f} bps\n"
            f"cost model: commission_rate {model.commission_rate}, commission_min {model.commission_min}, "
            f"slippage_bps {model.slippage_bps}"
        )
