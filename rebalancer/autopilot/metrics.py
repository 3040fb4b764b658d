"""Return-window statistics shared by every portfolio of one universe in a cycle.

One cycle over thousands of portfolios looks at the same few return windows; the
sample mean, covariance and the return matrix are computed once per
(universe, as-of) and reused (see :func:`window_stats`). Expected return and
volatility are annualised over 252 trading days; VaR is the one-day historical 95 %
loss, a positive fraction of portfolio value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rebalancer.autopilot.types import TRADING_DAYS, Metrics

VAR_LEVEL = 0.95


@dataclass(frozen=True)
class WindowStats:
    """Arrays of one return window in the column order of ``symbols``."""

    symbols: tuple[str, ...]
    index: dict[str, int]
    returns: np.ndarray  # (T, N) simple daily returns, no NaN
    mean: np.ndarray  # (N,) daily
    cov: np.ndarray  # (N, N) daily
    frame: pd.DataFrame  # the same window as a frame (for strategies and risk checks)

    def vector(self, weights: Mapping[str, float]) -> np.ndarray:
        w = np.zeros(len(self.symbols))
        for symbol, weight in weights.items():
            i = self.index.get(symbol)
            if i is not None:
                w[i] = weight
        return w


def window_stats(returns: pd.DataFrame, symbols: Sequence[str], lookback: int) -> WindowStats:
    """The last ``lookback`` rows of ``returns`` over ``symbols`` with no missing value.

    Rows where any of the symbols has no return are dropped (a symbol that had not
    traded yet cannot be priced into a covariance).
    """
    cols = tuple(symbols)
    frame = returns.reindex(columns=list(cols)).dropna(how="any").tail(lookback)
    values = frame.to_numpy(dtype=float)
    if values.shape[0] >= 2:
        mean = values.mean(axis=0)
        cov = np.atleast_2d(np.cov(values, rowvar=False))
    else:
        mean = np.zeros(len(cols))
        cov = np.zeros((len(cols), len(cols)))
    return WindowStats(
        symbols=cols,
        index={s: i for i, s in enumerate(cols)},
        returns=values,
        mean=mean,
        cov=cov,
        frame=frame,
    )


def historical_var(portfolio_returns: np.ndarray, level: float = VAR_LEVEL) -> float:
    """One-day historical VaR: the loss not exceeded with probability ``level`` (>= 0)."""
    if portfolio_returns.size == 0:
        return 0.0
    return max(0.0, -float(np.quantile(portfolio_returns, 1.0 - level)))


def metrics_of(weights: Mapping[str, float], stats: WindowStats) -> Metrics:
    """Expected return, volatility (annualised), one-day VaR 95 % and the cash weight."""
    w = stats.vector(weights)
    cash = max(0.0, 1.0 - float(sum(weights.values())))
    if stats.returns.shape[0] < 2:
        return Metrics(expected_return=0.0, volatility=0.0, var_95=0.0, cash_weight=cash)
    variance = float(w @ stats.cov @ w)
    return Metrics(
        expected_return=float(stats.mean @ w) * TRADING_DAYS,
        volatility=float(np.sqrt(max(variance, 0.0) * TRADING_DAYS)),
        var_95=historical_var(stats.returns @ w),
        cash_weight=cash,
    )


def drawdown(value_history: pd.Series | None) -> float:
    """Current drawdown from the running peak, as a positive fraction (0 at a peak)."""
    if value_history is None or len(value_history) == 0:
        return 0.0
    values = np.asarray(value_history, dtype=float)
    peak = float(np.max(values))
    if peak <= 0:
        return 0.0
    return max(0.0, 1.0 - float(values[-1]) / peak)
