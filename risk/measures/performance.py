"""Performance metrics of a periodic return series, optionally against a benchmark.

Conventions match empyrical(-reloaded), the peer the tests compare against:

- annual return: compound annual growth rate, ``(prod(1+r))^(P/n) - 1``;
- annual volatility: ``std(r, ddof=1) sqrt(P)``;
- Sharpe: ``mean(r - rf) / std(r - rf, ddof=1) * sqrt(P)``;
- Sortino: ``mean(r - rf) P / (sqrt(mean(min(r - rf, 0)^2)) sqrt(P))``;
- max drawdown: the worst fall of wealth ``prod(1+r)`` from its running peak, the
  peak including the starting wealth 1.0; **reported as a positive fraction**;
- Calmar: annual return / max drawdown;
- beta: ``cov(r, b) / var(b)``; alpha: ``(1 + mean(r - rf - beta (b - rf)))^P - 1``;
- tracking error: ``std(r - b, ddof=1) sqrt(P)``; information ratio:
  ``mean(r - b) P / tracking error``.

``P`` is ``periods_per_year`` (252 for daily returns). ``risk_free_rate`` is an
**annual** rate, converted to ``rf = risk_free_rate / P`` per period.
Max drawdown duration is the longest run of periods spent below a previous peak
(from the period after the peak to the recovery, or to the end if not recovered).
Hit rate is the fraction of periods with a positive return; profit factor the sum of
gains over the absolute sum of losses (None when there were no losses).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from risk.measures.errors import RiskInputError


@dataclass(frozen=True)
class PerformanceMetrics:
    """Annualised performance and risk of a return series (fractions, not percent)."""

    annual_return: float
    annual_volatility: float
    sharpe_ratio: float | None
    sortino_ratio: float | None
    calmar_ratio: float | None
    max_drawdown: float
    """Worst peak-to-trough fall of wealth, as a positive fraction (0.25 = -25 %)."""
    max_drawdown_duration: int
    """Longest number of periods spent below a previous peak."""
    hit_rate: float
    profit_factor: float | None
    n_periods: int
    beta: float | None = None
    alpha: float | None = None
    tracking_error: float | None = None
    information_ratio: float | None = None
    total_return: float = 0.0


def _ratio(num: float, den: float) -> float | None:
    if den == 0.0 or not math.isfinite(den) or not math.isfinite(num):
        return None
    return float(num / den)


def _as_array(series: pd.Series | np.ndarray, field: str) -> np.ndarray:
    values = np.asarray(series, dtype=float).ravel()
    if values.shape[0] < 2:
        raise RiskInputError(f"need at least 2 returns; got {values.shape[0]}", field=field)
    if not np.all(np.isfinite(values)):
        raise RiskInputError("returns must be finite numbers", field=field)
    return values


def wealth_index(returns: np.ndarray) -> np.ndarray:
    """Wealth ``prod(1+r)`` after each period, starting from 1.0 (not included)."""
    return np.cumprod(1.0 + returns)


def drawdown_series(returns: np.ndarray) -> np.ndarray:
    """Drawdown after each period as a positive fraction below the running peak (peak >= 1)."""
    wealth = wealth_index(returns)
    peaks = np.maximum.accumulate(np.concatenate([[1.0], wealth]))[1:]
    return 1.0 - wealth / peaks


def max_drawdown(returns: pd.Series | np.ndarray) -> float:
    """Maximum drawdown as a positive fraction (0 when wealth never fell below a peak)."""
    values = np.asarray(returns, dtype=float).ravel()
    if values.shape[0] == 0:
        return 0.0
    return float(drawdown_series(values).max())


def current_drawdown(returns: pd.Series | np.ndarray) -> float:
    """How far wealth after the last period sits below its running peak (positive fraction)."""
    values = np.asarray(returns, dtype=float).ravel()
    if values.shape[0] == 0:
        return 0.0
    return float(drawdown_series(values)[-1])


def max_drawdown_duration(returns: np.ndarray) -> int:
    underwater = drawdown_series(returns) > 1e-12
    longest = run = 0
    for flag in underwater:
        run = run + 1 if flag else 0
        longest = max(longest, run)
    return int(longest)


def performance_metrics(
    returns: pd.Series | np.ndarray,
    benchmark: pd.Series | np.ndarray | None = None,
    risk_free_rate: float = 0.0,
    periods_per_year: int = 252,
) -> PerformanceMetrics:
    """All the metrics of the module docstring for one return series.

    With a pandas ``benchmark`` and pandas ``returns`` the two are aligned on their
    common index; arrays must have the same length.
    """
    if periods_per_year <= 0:
        raise RiskInputError("periods_per_year must be positive", field="periods_per_year")
    if benchmark is not None and isinstance(returns, pd.Series) and isinstance(benchmark, pd.Series):
        joined = pd.concat([returns, benchmark], axis=1, join="inner").dropna()
        returns, benchmark = joined.iloc[:, 0], joined.iloc[:, 1]
    r = _as_array(returns, "returns")
    periods = float(periods_per_year)
    rf = risk_free_rate / periods
    n = r.shape[0]

    total = float(np.prod(1.0 + r) - 1.0)
    growth = 1.0 + total
    annual_return = growth ** (periods / n) - 1.0 if growth > 0 else -1.0
    annual_vol = float(r.std(ddof=1) * math.sqrt(periods))
    excess = r - rf
    sharpe = _ratio(float(excess.mean()), float(excess.std(ddof=1)))
    sharpe = None if sharpe is None else sharpe * math.sqrt(periods)
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2))) * math.sqrt(periods)
    sortino = _ratio(float(excess.mean()) * periods, downside)
    mdd = max_drawdown(r)
    gains, losses = r[r > 0].sum(), -r[r < 0].sum()

    beta = alpha = te = ir = None
    if benchmark is not None:
        b = _as_array(benchmark, "benchmark")
        if b.shape[0] != n:
            raise RiskInputError("returns and benchmark must have the same length", field="benchmark")
        centred = b - b.mean()
        beta = _ratio(float(np.mean(centred * r)), float(np.mean(centred**2)))
        if beta is not None:
            alpha = float((1.0 + np.mean((r - rf) - beta * (b - rf))) ** periods - 1.0)
        active = r - b
        te = float(active.std(ddof=1) * math.sqrt(periods))
        ir = _ratio(float(active.mean()) * periods, te)

    return PerformanceMetrics(
        annual_return=float(annual_return),
        annual_volatility=annual_vol,
        sharpe_ratio=sharpe,
        sortino_ratio=sortino,
        calmar_ratio=_ratio(float(annual_return), mdd),
        max_drawdown=mdd,
        max_drawdown_duration=max_drawdown_duration(r),
        hit_rate=float(np.mean(r > 0)),
        profit_factor=_ratio(float(gains), float(losses)),
        n_periods=n,
        beta=beta,
        alpha=alpha,
        tracking_error=te,
        information_ratio=ir,
        total_return=total,
    )
