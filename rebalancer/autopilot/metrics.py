"""Return-window statistics shared by every portfolio of one universe in a cycle.

One cycle over thousands of portfolios looks at the same few return windows; the
sample mean, covariance and the return matrix are computed once per
(universe, as-of) and reused (see :func:`window_stats`). Expected return and
volatility are annualised over 252 trading days; VaR is the one-day historical 95 %
loss, a positive fraction of portfolio value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rebalancer.autopilot.types import TRADING_DAYS, Metrics

VAR_LEVEL = 0.95


@dataclass(frozen=True)
class WindowStats:
    """Arrays of one return window in the column order of ``symbols``.

    ``mean``, ``cov`` and ``frame`` are computed on first use (a quiet day needs none).
    """

    symbols: tuple[str, ...]
    index: dict[str, int]
    returns: np.ndarray  # (T, N) simple daily returns, no NaN
    dates: np.ndarray  # (T,) datetime64 of the rows
    _lazy: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def mean(self) -> np.ndarray:
        """(N,) daily mean returns."""
        if "mean" not in self._lazy:
            r = self.returns
            self._lazy["mean"] = r.mean(axis=0) if r.shape[0] >= 2 else np.zeros(len(self.symbols))
        return self._lazy["mean"]

    @property
    def cov(self) -> np.ndarray:
        """(N, N) daily sample covariance."""
        if "cov" not in self._lazy:
            r = self.returns
            n = len(self.symbols)
            self._lazy["cov"] = np.atleast_2d(np.cov(r, rowvar=False)) if r.shape[0] >= 2 else np.zeros((n, n))
        return self._lazy["cov"]

    @property
    def frame(self) -> pd.DataFrame:
        """The same window as a frame (for strategies and risk checks)."""
        if "frame" not in self._lazy:
            self._lazy["frame"] = pd.DataFrame(
                self.returns, index=pd.DatetimeIndex(self.dates), columns=list(self.symbols)
            )
        return self._lazy["frame"]

    def vector(self, weights: Mapping[str, float]) -> np.ndarray:
        w = np.zeros(len(self.symbols))
        for symbol, weight in weights.items():
            i = self.index.get(symbol)
            if i is not None:
                w[i] = weight
        return w


def _stats_of(cols: tuple[str, ...], values: np.ndarray, dates: np.ndarray, frame=None) -> WindowStats:
    return WindowStats(
        symbols=cols, index={s: i for i, s in enumerate(cols)}, returns=values, dates=dates,
        _lazy={"frame": frame} if frame is not None else {},
    )


def window_stats(returns: pd.DataFrame, symbols: Sequence[str], lookback: int) -> WindowStats:
    """The last ``lookback`` rows of ``returns`` over ``symbols`` with no missing value.

    Rows where any of the symbols has no return are dropped (a symbol that had not
    traded yet cannot be priced into a covariance).
    """
    cols = tuple(symbols)
    frame = returns.reindex(columns=list(cols)).dropna(how="any").tail(lookback)
    return _stats_of(cols, frame.to_numpy(dtype=float), frame.index.to_numpy(), frame)


def window_stats_array(
    values: np.ndarray, dates: np.ndarray, columns: Mapping[str, int], symbols: Sequence[str], lookback: int
) -> WindowStats:
    """:func:`window_stats` on a complete array (no NaN): the same rows, without pandas."""
    cols = tuple(symbols)
    idx = [columns[s] for s in cols]
    return _stats_of(cols, values[-lookback:, idx], dates[-lookback:])


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
