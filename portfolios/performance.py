"""Time-weighted return from daily values and external cash flows (pure Python, no Django).

For consecutive valuations ``V[t-1]``, ``V[t]`` and the net external flow ``F[t]``
(deposits minus withdrawals) on day ``t``, assumed at the end of the day::

    r[t] = (V[t] - F[t]) / V[t-1] - 1

The cumulative time-weighted return is ``prod(1 + r) - 1``: deposits and withdrawals do
not count as performance (GIPS). Annualised figures use 252 trading days; the Sharpe
ratio assumes a zero risk-free rate; drawdown is measured on the TWR index.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

TRADING_DAYS = 252


@dataclass(frozen=True)
class TwrPoint:
    date: date
    value: float
    daily_return: float
    cumulative_return: float
    drawdown: float


@dataclass(frozen=True)
class PerformanceMetrics:
    total_return: float
    annualized_return: float
    annualized_volatility: float
    sharpe_ratio: float | None
    max_drawdown: float
    days: int


def twr_series(
    *, dates: Sequence[date], values: Sequence[Decimal | float], flows: Sequence[Decimal | float]
) -> list[TwrPoint]:
    """The TWR series; the first date is the base (return 0). Days valued at 0 are skipped."""
    points: list[TwrPoint] = []
    index, peak, previous = 1.0, 1.0, None
    for day, value, flow in zip(dates, values, flows, strict=True):
        value, flow = float(value), float(flow)
        daily = 0.0 if previous is None or previous <= 0 else (value - flow) / previous - 1
        index *= 1 + daily
        peak = max(peak, index)
        points.append(TwrPoint(day, value, daily, index - 1, index / peak - 1))
        previous = value
    return points


def metrics_from_twr(points: Sequence[TwrPoint]) -> PerformanceMetrics:
    """Total and annualised return, volatility, Sharpe (rf = 0) and max drawdown."""
    if len(points) < 2:
        return PerformanceMetrics(0.0, 0.0, 0.0, None, 0.0, len(points))
    returns = [p.daily_return for p in points[1:]]
    total = points[-1].cumulative_return
    n = len(returns)
    annual = (1 + total) ** (TRADING_DAYS / n) - 1 if total > -1 else -1.0
    mean = sum(returns) / n
    var = sum((r - mean) ** 2 for r in returns) / (n - 1) if n > 1 else 0.0
    vol = math.sqrt(var) * math.sqrt(TRADING_DAYS)
    sharpe = (mean * TRADING_DAYS) / vol if vol > 0 else None
    return PerformanceMetrics(
        total_return=total,
        annualized_return=annual,
        annualized_volatility=vol,
        sharpe_ratio=sharpe,
        max_drawdown=min(p.drawdown for p in points),
        days=len(points),
    )
