"""Causal market features for the regime detector.

Every feature at day ``t`` is computed from prices on or before ``t`` (trailing
windows only), so filtering them day by day never looks ahead:

- ``ret``: the day's log return of the reference index;
- ``vol``: log of the trailing realized volatility (annualised, ``vol_window`` days)
  — the log makes the heavy right tail of volatility closer to Gaussian;
- ``trend``: the trailing mean log return over ``trend_window`` days, annualised
  (252 trading days a year).

The first ``max(vol_window, trend_window)`` days have no complete window and are
dropped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

TRADING_DAYS = 252
FEATURE_NAMES = ("ret", "vol", "trend")


@dataclass(frozen=True)
class FeatureConfig:
    """Which trailing windows the detector's features use."""

    vol_window: int = 21
    """Days in the realized-volatility window."""
    trend_window: int = 21
    """Days in the trailing-return window."""
    columns: tuple[str, ...] = ("ret", "vol")
    """Which features the HMM sees (a subset of :data:`FEATURE_NAMES`, in that order;
    the product uses :data:`DEFAULT_FEATURES`, the return alone)."""

    @property
    def warmup(self) -> int:
        """Days of history consumed before the first complete feature row."""
        return max(self.vol_window, self.trend_window)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["columns"] = list(self.columns)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> FeatureConfig:
        return cls(
            vol_window=int(data["vol_window"]),
            trend_window=int(data["trend_window"]),
            columns=tuple(data.get("columns", FEATURE_NAMES)),
        )


DEFAULT_FEATURES = FeatureConfig(columns=("ret",))
"""What the product fits on: the daily log return alone (issue 16). An HMM assumes the
observations are independent given the regime; the daily return is (the regimes differ
in its mean and volatility), while a 21-day volatility or trend shares 20 of its 21 days
with yesterday's, so the filter treats one piece of evidence as twenty and lags at every
switch. On simulator seeds 0-19 (fit on 5 years, filter 7) the median accuracy is 0.90
with the return alone against 0.65 with return and volatility (docs/REGIME.md)."""


def regime_features(prices: pd.Series, config: FeatureConfig | None = None) -> pd.DataFrame:
    """Trailing features of an index level series.

    ``prices``: positive levels indexed by date (missing days are dropped).
    Returns a frame indexed by date with columns :data:`FEATURE_NAMES`, starting at
    the first day with complete windows.
    """
    config = config or FeatureConfig()
    prices = pd.Series(prices, dtype=float).dropna()
    if (prices <= 0).any():
        raise ValueError("prices must be positive")
    unknown = set(config.columns) - set(FEATURE_NAMES)
    if unknown or not config.columns:
        raise ValueError(f"unknown feature columns {sorted(unknown)}; use {FEATURE_NAMES}")
    log_ret = np.log(prices).diff()
    vol = log_ret.rolling(config.vol_window).std(ddof=1) * np.sqrt(TRADING_DAYS)
    trend = log_ret.rolling(config.trend_window).mean() * TRADING_DAYS
    frame = pd.DataFrame(
        {"ret": log_ret, "vol": np.log(np.maximum(vol, 1e-6)), "trend": trend},
        index=prices.index,
    )
    return frame.iloc[config.warmup :].dropna()


def equal_weight_index(prices: pd.DataFrame, base: float = 100.0) -> pd.Series:
    """An equal-weight, daily-rebalanced index of the columns of ``prices``.

    Days where a column has no quote contribute no return for it (the index averages
    the returns of the symbols quoted on both days).
    """
    returns = prices.astype(float).pct_change(fill_method=None).iloc[1:]
    mean_ret = returns.mean(axis=1, skipna=True).fillna(0.0)
    level = base * (1.0 + mean_ret).cumprod()
    return pd.concat([pd.Series([base], index=prices.index[:1]), level])
