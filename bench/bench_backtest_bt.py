"""Equal weight rebalanced monthly: our backtester side by side with the bt library.

Same data (17 stocks of ../shared/data/stock_prices.csv with full history, 2008-01-02 to
2018-04-11, rounded to the 6 decimals the database stores), same conventions: fractional
positions, zero costs, 1/N on the first trading day of each month (bt's RunMonthly), the
whole initial capital invested on the first day. Three runs:

* bt 1.4.1 (``bt.algos.RunMonthly, SelectAll, WeighEqually, Rebalance``);
* ours, vectorized fast path (``fixed_weight_backtest``: only rebalance days are visited);
* ours, the full pipeline replay (``replay`` through the autopilot's ``cycle_decide`` with
  Decimal ledger arithmetic), for reference.

Prints the max relative difference of each equity curve against bt's and the median
wall times over repeats.  Run: ``.venv/bin/python bench/bench_backtest_bt.py``
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rebalancer.settings.test")

REPEATS = int(os.environ.get("REPEATS", "5"))
INITIAL = 1_000_000.0


def load() -> pd.DataFrame:
    frame = pd.read_csv(
        ROOT.parent / "shared" / "data" / "stock_prices.csv", parse_dates=["date"], index_col="date"
    )
    return frame.loc["2008-01-01":].dropna(axis=1).round(6)


def run_bt(prices: pd.DataFrame) -> pd.Series:
    import bt

    strategy = bt.Strategy(
        "ew",
        [
            bt.algos.RunMonthly(),
            bt.algos.SelectAll(),
            bt.algos.WeighEqually(),
            bt.algos.Rebalance(),
        ],
    )
    test = bt.Backtest(
        strategy, prices, integer_positions=False, initial_capital=INITIAL, progress_bar=False
    )
    result = bt.run(test)
    # bt prepends the day before the data as the "initial capital" row; drop it.
    return result.backtests["ew"].strategy.values.reindex(prices.index)


def run_fast(prices: pd.DataFrame) -> np.ndarray:
    from rebalancer.backtests.engine.fast import fixed_weight_backtest
    from rebalancer.backtests.engine.schedule import period_starts

    n = prices.shape[1]
    mask = period_starts(pd.DatetimeIndex(prices.index), "monthly")
    return fixed_weight_backtest(
        prices.to_numpy(), np.full(n, 1.0 / n), mask, initial_cash=INITIAL
    ).equity


def run_replay(prices: pd.DataFrame) -> np.ndarray:
    from portfolios.policy import policy_limits_unconstrained
    from rebalancer.autopilot.types import (
        AutonomyConfig,
        BandSettings,
        OverlaySettings,
        TradeConfig,
    )
    from rebalancer.backtests.engine.replay import ReplaySpec, replay

    autonomy = AutonomyConfig(
        mode="autopilot",
        strategy="equal_weight",
        universe=tuple(prices.columns),
        rebalance_threshold=1.0,
        calendar="monthly",
        # bt's plain 1/N: no tier limits, no overlay, every review to target, no cost gate
        limits=policy_limits_unconstrained(),
        overlay=OverlaySettings(volatility_targeting=False, drawdown_rule=False),
        band=BandSettings(relative=100.0, on_review="full", cost_gate=False),
        trade=TradeConfig(
            min_trade_value=0.01, commission_rate=0.0, slippage_bps=0.0, cash_buffer=0.0
        ),
    )
    return replay(prices, ReplaySpec(initial_cash=Decimal(str(INITIAL)), autonomy=autonomy)).equity


def timed(fn, *args, repeats: int = REPEATS):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def main() -> None:
    import django

    django.setup()
    from rebalancer.autopilot.strategies import strategies_register

    strategies_register()
    prices = load()
    print(
        f"data: {prices.shape[1]} assets x {prices.shape[0]} days ({prices.index[0].date()} .. {prices.index[-1].date()})"
    )
    (
        run_bt(prices.iloc[:50]),
        run_fast(prices.iloc[:50]),
        run_replay(prices.iloc[:50]),
    )  # warm imports
    bt_eq, t_bt = timed(run_bt, prices)
    fast_eq, t_fast = timed(run_fast, prices)
    replay_eq, t_replay = timed(run_replay, prices, repeats=max(1, REPEATS // 2))
    ref = bt_eq.to_numpy()
    print(
        f"max |ours/bt - 1|: fast path {np.max(np.abs(fast_eq / ref - 1)):.2e}, "
        f"pipeline replay {np.max(np.abs(replay_eq / ref - 1)):.2e}"
    )
    print(f"final value: bt {ref[-1]:,.4f}  fast {fast_eq[-1]:,.4f}  replay {replay_eq[-1]:,.4f}")
    print(
        f"median wall time: bt {t_bt * 1000:.1f} ms | ours fast path {t_fast * 1000:.2f} ms "
        f"({t_bt / t_fast:.0f}x faster) | ours pipeline replay {t_replay * 1000:.0f} ms "
        f"({t_bt / t_replay:.2f}x bt)"
    )


if __name__ == "__main__":
    main()
