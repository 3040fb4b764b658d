"""Data-health rules for one asset's daily bars (pure: numpy and pandas, no Django).

An asset's status, from worst to best:

* ``missing`` — no bar on or before the as-of date;
* ``stale`` — the last bar is more than ``stale_after_days`` business days before the
  as-of date (holidays count as business days, hence a small tolerance);
* ``suspect`` — within the last ``lookback_days`` bars: a daily move of the adjusted
  close beyond the asset class's bound on a date without a recorded corporate action;
  a day on which the close and the adjusted close moved apart by more than
  ``max_unexplained_adjustment`` without a recorded action (the data shows a split or
  a dividend — a halved close with a continuous adjusted close — that nobody recorded,
  so the ledger's share counts would not match the close); a gap of more than
  ``max_gap_days`` business days between consecutive bars; or a bar whose high is
  below its low or whose close lies outside [low, high];
* ``ok`` — none of the above.

Every reason is reported; nothing is "fixed". The autopilot refuses to trade an asset
whose status is not ``ok``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

HealthStatus = Literal["ok", "stale", "suspect", "missing"]


@dataclass(frozen=True)
class HealthRules:
    """Thresholds of the health checks (settings ``MARKETDATA_HEALTH`` override them)."""

    max_daily_move: float = 0.50
    """Largest plausible one-day move of the adjusted close (|simple return|)."""
    max_daily_move_by_class: dict[str, float] = field(
        default_factory=lambda: {"crypto": 0.75, "bond": 0.20, "cash": 0.05}
    )
    """Per-asset-class overrides of ``max_daily_move``."""
    stale_after_days: int = 3
    """A series is stale when its last bar is more business days old than this."""
    max_gap_days: int = 5
    """Longest run of missing business days between two bars that is not suspect."""
    lookback_days: int = 252
    """How many of the latest bars are checked for moves, gaps and inconsistent bars."""
    max_unexplained_adjustment: float = 0.05
    """Largest one-day gap between the close's and the adjusted close's move without a
    recorded action: ordinary dividends stay under it, a 21-for-20 split does not."""

    def move_bound(self, asset_class: str) -> float:
        return self.max_daily_move_by_class.get(asset_class, self.max_daily_move)


@dataclass(frozen=True)
class AssetHealth:
    """The health of one asset's series as of a date."""

    symbol: str
    status: HealthStatus
    reasons: list[str]
    last_date: dt.date | None


def business_days_between(earlier: dt.date, later: dt.date) -> int:
    """Business days in ``(earlier, later]`` (0 when ``later <= earlier``)."""
    if later <= earlier:
        return 0
    return int(np.busday_count(earlier + dt.timedelta(days=1), later + dt.timedelta(days=1)))


def series_health(
    *,
    symbol: str,
    asset_class: str,
    bars: pd.DataFrame,
    as_of: dt.date,
    rules: HealthRules,
    action_dates: Iterable[dt.date] = (),
) -> AssetHealth:
    """Judge one asset's bars (columns date, high, low, close, adj_close; any order).

    Only bars on or before ``as_of`` count; ``action_dates`` are dates of recorded
    corporate actions (moves on those dates are explained).
    """
    if bars.empty:
        return _missing(symbol, as_of)
    bars = bars.loc[pd.to_datetime(bars["date"]) <= pd.Timestamp(as_of)].sort_values("date")
    if bars.empty:
        return _missing(symbol, as_of)
    dates = pd.to_datetime(bars["date"]).dt.date.to_numpy()
    last_date: dt.date = dates[-1]
    stale = _stale_reason(last_date, as_of, rules)

    recent = _RecentBars.of(bars.iloc[-(rules.lookback_days + 1) :], dates)
    explained = set(action_dates)
    reasons = [
        *([stale] if stale else []),
        *_move_reasons(recent, rules.move_bound(asset_class), explained),
        *_gap_reasons(recent, rules),
        *_adjustment_reasons(recent, rules, explained),
        *_inconsistent_bar_reasons(recent),
    ]
    status: HealthStatus = "stale" if stale else ("suspect" if reasons else "ok")
    return AssetHealth(symbol, status, reasons, last_date)


def _missing(symbol: str, as_of: dt.date) -> AssetHealth:
    return AssetHealth(symbol, "missing", [f"no price on or before {as_of.isoformat()}"], None)


def _stale_reason(last_date: dt.date, as_of: dt.date, rules: HealthRules) -> str | None:
    lag = business_days_between(last_date, as_of)
    if lag <= rules.stale_after_days:
        return None
    return (
        f"stale: last bar {last_date.isoformat()} is {lag} business days before {as_of.isoformat()} "
        f"(limit {rules.stale_after_days})"
    )


@dataclass(frozen=True)
class _RecentBars:
    """The bars the move, gap and bar checks look at (the last ``lookback_days + 1``), as arrays."""

    dates: np.ndarray
    """``dt.date`` objects, ascending."""
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    adj: np.ndarray

    @classmethod
    def of(cls, recent: pd.DataFrame, dates: np.ndarray) -> _RecentBars:
        adj, high, low, close = (recent[c].to_numpy(dtype=float) for c in ("adj_close", "high", "low", "close"))
        return cls(dates=dates[-len(recent) :], high=high, low=low, close=close, adj=adj)

    @property
    def adjusted_moves(self) -> np.ndarray:
        """Simple daily returns of the adjusted close (one fewer than the bars)."""
        return self.adj[1:] / self.adj[:-1] - 1.0


def _move_reasons(recent: _RecentBars, bound: float, explained: set[dt.date]) -> list[str]:
    if len(recent.adj) <= 1:
        return []
    moves = recent.adjusted_moves
    reasons = []
    for k in np.flatnonzero(np.abs(moves) > bound):
        day = recent.dates[k + 1]
        if day not in explained:
            reasons.append(f"suspect move {moves[k]:+.1%} on {day.isoformat()} (bound {bound:.0%}, no corporate action)")
    return reasons


def _gap_reasons(recent: _RecentBars, rules: HealthRules) -> list[str]:
    if len(recent.adj) <= 1:
        return []
    days = recent.dates.astype("datetime64[D]")
    gaps = np.busday_count(days[:-1], days[1:]) - 1
    return [
        f"gap of {int(gaps[k])} business days between {recent.dates[k].isoformat()} "
        f"and {recent.dates[k + 1].isoformat()}"
        for k in np.flatnonzero(gaps > rules.max_gap_days)
    ]


def _adjustment_reasons(recent: _RecentBars, rules: HealthRules, explained: set[dt.date]) -> list[str]:
    """Days on which the close and the adjusted close moved apart without a recorded action."""
    close, adj = recent.close, recent.adj
    if len(close) <= 1:
        return []
    moves = recent.adjusted_moves
    raw_moves = close[1:] / close[:-1] - 1.0
    gap = (close[1:] / close[:-1]) / (adj[1:] / adj[:-1]) - 1.0
    reasons = []
    for k in np.flatnonzero(np.abs(gap) > rules.max_unexplained_adjustment):
        day = recent.dates[k + 1]
        if day not in explained:
            reasons.append(
                f"unrecorded corporate action on {day.isoformat()}: the close moved {raw_moves[k]:+.1%} and the "
                f"adjusted close {moves[k]:+.1%} (record the split or dividend)"
            )
    return reasons


def _inconsistent_bar_reasons(recent: _RecentBars) -> list[str]:
    high, low, close = recent.high, recent.low, recent.close
    inconsistent = (high < low) | (close > high) | (close < low)
    return [
        f"inconsistent bar on {recent.dates[k].isoformat()}: low {low[k]:g}, high {high[k]:g}, close {close[k]:g}"
        for k in np.flatnonzero(inconsistent)
    ]
