"""Does tax-loss harvesting pay? The same backtests with harvesting off and on, on real data.

For each window and strategy: final value, estimated tax (Schedule D netting at 35 % / 15 %,
3,000 yearly loss deduction), after-tax value (final value - estimated tax; the tax of
gains still unrealized at the end is not counted, for both runs alike), the value after
liquidating everything on the last day (final value - the tax of the window plus the
liquidation: what harvesting's lower bases owe eventually), and what the harvesting did (losses harvested, gains they offset, tax saved in the window, wash-sale
blocks). Prices: adjusted closes of ``../shared/data/stock_prices.csv`` (the symbols
trading through the whole window), costs 5 bps commission + 5 bps slippage.

    .venv/bin/python bench/bench_tax_harvest.py [--windows 2007-01-03:2012-12-31,2013-01-02:2018-04-10]
        [--strategies equal_weight,optimizer:risk_parity,optimizer:max_sharpe]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = next(
    (p for p in (ROOT.parent / "shared" / "data", ROOT.parent.parent / "shared" / "data") if p.is_dir()),
    ROOT.parent / "shared" / "data",
) / "stock_prices.csv"


def _liquidation_tax(outcome, prices: pd.DataFrame, end: date, rates) -> float:
    """Estimated tax of the window if every open lot were also sold at the last close."""
    from portfolios.tax import LONG, holding_period, tax_years_net

    ledger = outcome.replay.ledger
    realized: dict[int, list[Decimal]] = {}
    for c in ledger.closings:
        realized.setdefault(c.closed_on.year, [Decimal(0), Decimal(0)])[c.holding_period == LONG] += c.recognized_gain
    last = prices.iloc[-1]
    year = realized.setdefault(end.year, [Decimal(0), Decimal(0)])
    for lot in ledger.lots:
        gain = lot.quantity * Decimal(str(last[lot.symbol])) - lot.basis
        year[holding_period(lot.holding_start, end) == LONG] += gain
    return sum(y.tax for y in tax_years_net({y: tuple(v) for y, v in realized.items()}, rates))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--windows", default="2007-01-03:2012-12-31,2013-01-02:2018-04-10")
    parser.add_argument("--strategies", default="equal_weight,optimizer:risk_parity,optimizer:max_sharpe")
    parser.add_argument("--calendar", default="monthly")
    parser.add_argument("--threshold", type=float, default=0.05)
    parser.add_argument("--tier", default="balanced", help="risk tier whose limits and overlay apply")
    parser.add_argument("--min-correlation", type=float, default=None,
                        help="a harvest replacement's minimum correlation (default: TaxConfig's)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rebalancer.settings.test")
    import django

    django.setup()
    from rebalancer.autopilot.strategies import strategies_register
    from rebalancer.autopilot.types import TaxConfig, TradeConfig
    from rebalancer.backtests.engine.config import BacktestConfig
    from rebalancer.backtests.engine.report import backtest_report

    strategies_register()
    frame = pd.read_csv(DATA, parse_dates=["date"], index_col="date").round(6)
    print(f"{'window':23} {'strategy':24} {'TLH':3} {'final':>12} {'tax':>10} {'after tax':>12} {'liquidated':>11} "
          f"{'harvested':>10} {'offset':>9} {'saved':>9} {'blocks':>6} {'trades':>6} {'s':>5}")
    for window in args.windows.split(","):
        start, end = (date.fromisoformat(x) for x in window.split(":"))
        history = frame.loc[pd.Timestamp(start) - pd.Timedelta(days=400) : pd.Timestamp(end)]
        prices = history.dropna(axis=1)
        symbols = tuple(prices.columns)
        base = BacktestConfig(
            symbols=symbols, start=start, end=end, initial_cash=Decimal(100000),
            strategies=tuple(args.strategies.split(",")), rebalance_threshold=args.threshold,
            calendar=args.calendar, lookback_days=252, baselines=False,
            trade=TradeConfig(commission_rate=0.0005, slippage_bps=5.0, min_trade_value=50.0, cash_buffer=0.02),
            risk_tier=args.tier,
        )
        for tlh in (False, True):
            tax = TaxConfig(enabled=tlh, loss_threshold=0.05)
            if args.min_correlation is not None:
                tax = replace(tax, min_correlation=args.min_correlation)
            config = replace(base, tax=tax)
            t0 = time.perf_counter()
            report = backtest_report(config, prices, asset_classes={s: "equity" for s in symbols})
            seconds = time.perf_counter() - t0
            for o in report.outcomes:
                t = o.taxes
                liquidated = o.final_value - _liquidation_tax(o, prices, end, config.tax_rates)
                print(f"{window:23} {o.name:24} {'on' if tlh else 'off':3} {o.final_value:12,.0f} {t.estimated_tax:10,.0f} "
                      f"{o.final_value - t.estimated_tax:12,.0f} {liquidated:11,.0f} {t.harvested_losses:10,.0f} {t.gains_offset:9,.0f} "
                      f"{t.tax_saved:9,.0f} {t.wash_sale_blocks:6d} {o.trades:6d} {seconds / len(report.outcomes):5.0f}")


if __name__ == "__main__":
    main()
