"""A 10-year daily backtest of 20 assets rebalanced monthly by an optimizer strategy.

The full pipeline replay: every trading day goes through the autopilot's pure core
(``cycle_decide``: triggers, strategy, pre-trade checks, risk override, trade generation)
or is screened as provably quiet by the same trigger functions; trades are booked in the
in-memory Decimal ledger. Data: a seeded synthetic market (20 assets, one common factor,
fat tails) of 2,520 trading days plus one year of look-back history. Strategy
``optimizer:min_volatility`` (cvxpy), monthly calendar trigger, drift trigger off
(threshold 1), default costs (5 bps commission, 5 bps slippage), default risk limits
(VaR and drawdown override on), baselines and metrics included (``backtest_report``).

Goal: under 5 s. Run: ``.venv/bin/python bench/bench_backtest.py`` (REPEATS=3 by default;
STRATEGY=optimizer:max_sharpe to change the objective; COSTS=zero for a frictionless run,
where only the calendar trigger fires: with costs, the buys of a rebalance are scaled
down by the costs and the residue, above the minimum trade value, fires the core's cash
trigger on following days).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rebalancer.settings.test")

REPEATS = int(os.environ.get("REPEATS", "3"))
STRATEGY = os.environ.get("STRATEGY", "optimizer:min_volatility")
COSTS = os.environ.get("COSTS", "default")  # "default" (5 + 5 bps) or "zero"
CASH_BUFFER = float(os.environ.get("CASH_BUFFER", "0.02"))
LIMITS = os.environ.get("LIMITS", "default")  # "default" or "off" (no risk trigger/override)
N_ASSETS, YEARS, HISTORY = 20, 10, 252


def synthetic_prices(seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = YEARS * 252 + HISTORY
    factor = rng.standard_t(5, days) * 0.008
    betas = rng.uniform(0.5, 1.5, N_ASSETS)
    idio = rng.standard_t(5, (days, N_ASSETS)) * rng.uniform(0.006, 0.02, N_ASSETS)
    drift = rng.uniform(0.0001, 0.0006, N_ASSETS)
    returns = drift + factor[:, None] * betas + idio
    prices = 50.0 * np.cumprod(1.0 + returns, axis=0)
    index = pd.bdate_range("2008-01-01", periods=days)
    return pd.DataFrame(
        prices.round(6), index=index, columns=[f"A{i:02d}" for i in range(N_ASSETS)]
    )


def main() -> None:
    import django

    django.setup()
    from portfolios.policy import policy_limits_unconstrained
    from rebalancer.autopilot.strategies import strategies_register
    from rebalancer.autopilot.types import OverlaySettings, TradeConfig
    from rebalancer.backtests.engine.config import BacktestConfig
    from rebalancer.backtests.engine.report import backtest_report

    strategies_register()
    prices = synthetic_prices()
    start: date = prices.index[HISTORY].date()
    config = BacktestConfig(
        symbols=tuple(prices.columns),
        start=start,
        end=prices.index[-1].date(),
        initial_cash=Decimal("1000000"),
        strategies=(STRATEGY,),
        rebalance_threshold=1.0,
        calendar="monthly",
        **({"limits": policy_limits_unconstrained(cash_buffer=CASH_BUFFER),
            "overlay": OverlaySettings(volatility_targeting=False, drawdown_rule=False)} if LIMITS == "off" else {}),
        trade=TradeConfig(cash_buffer=CASH_BUFFER)
        if COSTS != "zero"
        else TradeConfig(commission_rate=0.0, slippage_bps=0.0, cash_buffer=CASH_BUFFER),
    )
    backtest_report(config, prices.iloc[: HISTORY + 30])  # warm imports and the solver
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        report = backtest_report(config, prices)
        times.append(time.perf_counter() - t0)
    row = report.outcomes[0].row()
    replay = report.outcomes[0].replay
    print(
        f"{N_ASSETS} assets x {len(report.dates)} trading days, {STRATEGY}, monthly, costs {COSTS}, cash buffer {CASH_BUFFER:.0%}, limits {LIMITS}"
    )
    kinds = Counter(k for d in replay.decisions for k in d.triggers)
    print(f"triggers fired: {dict(kinds)}")
    print(
        f"decisions: {len(replay.decisions)}, rebalances: {row['rebalances']}, trades: {row['trades']}, "
        f"final value {row['final_value']:,.2f}, Sharpe {row['sharpe_ratio']:.2f}"
    )
    print(
        f"median wall time over {REPEATS}: {statistics.median(times):.2f} s "
        f"(all: {', '.join(f'{t:.2f}' for t in times)}); goal < 5 s"
    )


if __name__ == "__main__":
    main()
