"""Baselines every backtest is compared with, on the vectorized fast path.

* ``buy_and_hold`` — equal weights bought on the first day, never traded again;
* ``equal_weight_monthly`` — back to 1/N on the first trading day of each month;
* ``sixty_forty`` — 60 % equities / 40 % bonds (equal weights within each sleeve),
  rebalanced monthly; only when the universe holds both asset classes.

They trade with the configuration's proportional commission and slippage (the minimum
commission, cash buffer and minimum trade size of the live pipeline do not apply), so
they are reference points, not replays of the pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from rebalancer.backtests.engine.fast import FastResult, fixed_weight_backtest
from rebalancer.backtests.engine.schedule import period_starts

EQUITY_CLASSES = ("equity", "stock", "etf_equity")
BOND_CLASSES = ("bond", "fixed_income")


def sixty_forty_weights(symbols: list[str], asset_classes: Mapping[str, str]) -> np.ndarray | None:
    """60/40 weights over ``symbols`` or ``None`` when a sleeve has no asset."""
    equities = [s for s in symbols if asset_classes.get(s, "").lower() in EQUITY_CLASSES]
    bonds = [s for s in symbols if asset_classes.get(s, "").lower() in BOND_CLASSES]
    if not equities or not bonds:
        return None
    w = np.zeros(len(symbols))
    for i, s in enumerate(symbols):
        if s in equities:
            w[i] = 0.6 / len(equities)
        elif s in bonds:
            w[i] = 0.4 / len(bonds)
    return w


def baselines_run(
    prices: pd.DataFrame,
    *,
    initial_cash: float,
    commission_rate: float,
    slippage_rate: float,
    asset_classes: Mapping[str, str],
) -> dict[str, FastResult]:
    symbols = [str(s) for s in prices.columns]
    values = prices.to_numpy(dtype=float)
    n = len(symbols)
    equal = np.full(n, 1.0 / n)
    monthly = period_starts(pd.DatetimeIndex(prices.index), "monthly")
    never = period_starts(pd.DatetimeIndex(prices.index), "never")
    kw = {
        "initial_cash": initial_cash,
        "commission_rate": commission_rate,
        "slippage_rate": slippage_rate,
    }
    out = {
        "buy_and_hold": fixed_weight_backtest(values, equal, never, **kw),
        "equal_weight_monthly": fixed_weight_backtest(values, equal, monthly, **kw),
    }
    sixty_forty = sixty_forty_weights(symbols, asset_classes)
    if sixty_forty is not None:
        out["sixty_forty"] = fixed_weight_backtest(values, sixty_forty, monthly, **kw)
    return out
