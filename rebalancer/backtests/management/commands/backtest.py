"""``python manage.py backtest`` — replay strategies over stored prices, with a progress bar.

    python manage.py backtest --symbols AAPL,XOM,JPM,PFE --start 2012-01-03 --end 2017-12-29 \
        --strategy equal_weight --strategy optimizer:min_volatility --benchmark SPY

Stores the run as a :class:`Backtest` of ``--owner`` (an e-mail) when given, else runs it
without storing; prints the comparison table either way.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from common.errors import ApplicationError
from rebalancer.backtests import services


class Command(BaseCommand):
    help = "Backtest one or more strategies over stored prices and print the comparison table."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--symbols", required=True, help="Comma-separated universe, e.g. AAPL,XOM"
        )
        parser.add_argument("--start", required=True, help="First trading day (YYYY-MM-DD)")
        parser.add_argument("--end", required=True, help="Last day (YYYY-MM-DD)")
        parser.add_argument(
            "--strategy", action="append", dest="strategies", help="Repeat for several"
        )
        parser.add_argument("--cash", default="100000", help="Initial cash")
        parser.add_argument("--benchmark", default=None)
        parser.add_argument(
            "--calendar", default="monthly", choices=["none", "monthly", "quarterly"]
        )
        parser.add_argument("--threshold", type=float, default=0.05, help="Drift trigger; 1 = off")
        parser.add_argument("--lookback", type=int, default=252)
        parser.add_argument("--commission-rate", type=float, default=0.0005)
        parser.add_argument("--slippage-bps", type=float, default=5.0)
        parser.add_argument("--min-trade", type=float, default=50.0)
        parser.add_argument("--cash-buffer", type=float, default=0.02)
        parser.add_argument("--tax-loss-harvesting", action="store_true")
        parser.add_argument("--risk-tier", default="balanced")
        parser.add_argument("--no-limits", action="store_true", help="Switch the risk limits off")
        parser.add_argument(
            "--check-invariants", action="store_true", help="Ledger checks after every day"
        )
        parser.add_argument(
            "--owner", default=None, help="E-mail of the user who owns the stored run"
        )

    def handle(self, *args, **opts) -> None:
        data = {
            "symbols": [s.strip() for s in opts["symbols"].split(",") if s.strip()],
            "start": opts["start"],
            "end": opts["end"],
            "initial_cash": opts["cash"],
            "strategies": opts["strategies"] or ["equal_weight"],
            "benchmark": opts["benchmark"],
            "calendar": opts["calendar"],
            "rebalance_threshold": opts["threshold"],
            "lookback_days": opts["lookback"],
            "commission_rate": opts["commission_rate"],
            "slippage_bps": opts["slippage_bps"],
            "min_trade_value": opts["min_trade"],
            "cash_buffer": opts["cash_buffer"],
            "tax_loss_harvesting": opts["tax_loss_harvesting"],
            "risk_tier": opts["risk_tier"],
            "check_invariants": opts["check_invariants"],
        }
        if opts["no_limits"]:
            data["limits"] = dict.fromkeys(
                ("max_position", "max_asset_class", "max_var_95", "max_drawdown", "max_turnover")
            )
        bar = tqdm(total=100, unit="%", desc="backtest")

        def progress(fraction: float) -> None:
            bar.n = round(fraction * 100)
            bar.refresh()

        try:
            if opts["owner"]:
                owner = get_user_model().objects.filter(email=opts["owner"]).first()
                if owner is None:
                    raise CommandError(f"No user with e-mail {opts['owner']}")
                backtest = services.backtest_create(owner=owner, data=data, enqueue=False)
                backtest = services.backtest_run(backtest_id=backtest.pk, progress=progress)
                bar.close()
                if backtest.status != "succeeded":
                    raise CommandError(f"Backtest #{backtest.pk} failed: {backtest.error}")
                table = backtest.results["comparison"]
                self.stdout.write(f"Stored as backtest #{backtest.pk}")
            else:
                table = services.backtest_compute(data=data, progress=progress)
                bar.close()
        except ApplicationError as exc:
            bar.close()
            raise CommandError(f"{exc.field or 'input'}: {exc.message}") from exc
        self.stdout.write(format_table(table))


COLUMNS = (
    ("name", "{}", 24),
    ("final_value", "{:,.2f}", 16),
    ("total_return", "{:.2%}", 10),
    ("annual_return", "{:.2%}", 9),
    ("annual_volatility", "{:.2%}", 9),
    ("sharpe_ratio", "{:.2f}", 7),
    ("sortino_ratio", "{:.2f}", 8),
    ("calmar_ratio", "{:.2f}", 7),
    ("max_drawdown", "{:.2%}", 9),
    ("beta", "{:.2f}", 6),
    ("tracking_error", "{:.2%}", 8),
    ("costs", "{:,.2f}", 11),
    ("taxes", "{:,.2f}", 11),
    ("annual_turnover", "{:.2f}", 8),
    ("rebalances", "{}", 6),
    ("trades", "{}", 7),
)
HEADERS = {
    "name": "strategy",
    "final_value": "final value",
    "total_return": "return",
    "annual_return": "CAGR",
    "annual_volatility": "vol",
    "sharpe_ratio": "Sharpe",
    "sortino_ratio": "Sortino",
    "calmar_ratio": "Calmar",
    "max_drawdown": "max DD",
    "beta": "beta",
    "tracking_error": "TE",
    "costs": "costs",
    "taxes": "est. tax",
    "annual_turnover": "turn/yr",
    "rebalances": "rebal",
    "trades": "trades",
}


def format_table(rows: list[dict]) -> str:
    lines = [" ".join(HEADERS[key].rjust(width) for key, _, width in COLUMNS)]
    for row in rows:
        cells = []
        for key, fmt, width in COLUMNS:
            value = row.get(key)
            cells.append(("-" if value is None else fmt.format(value))[:width].rjust(width))
        lines.append(" ".join(cells))
    return "\n".join(lines)
