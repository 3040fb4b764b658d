"""VaR backtesting: Kupiec proportion of failures, Christoffersen independence, Basel traffic light.

An *exception* is a day whose realised loss exceeds the VaR forecast made the day before.

- Kupiec (1995) POF: ``LR = -2 ln[(1-p)^(n-x) p^x] + 2 ln[(1-x/n)^(n-x) (x/n)^x]`` with
  ``p = 1 - confidence``, ``x`` exceptions in ``n`` days; chi-square with 1 dof.
- Christoffersen (1998) independence: with ``n_ij`` the number of days in state j after a
  day in state i (1 = exception), ``pi0 = n01/(n00+n01)``, ``pi1 = n11/(n10+n11)``,
  ``pi = (n01+n11)/(n00+n01+n10+n11)``,
  ``LR = -2 ln[(1-pi)^(n00+n10) pi^(n01+n11)] + 2 ln[(1-pi0)^n00 pi0^n01 (1-pi1)^n10 pi1^n11]``;
  chi-square with 1 dof; conditional coverage ``LR_cc = LR_pof + LR_ind`` with 2 dof.
  ``0^0 = 1`` throughout.
- Basel traffic light (BCBS 1996): with ``F`` the binomial CDF of exceptions under the
  model, green if ``F(x) < 95 %``, red if ``F(x) >= 99.99 %``, yellow between. For 250 days
  at 99 % this is the familiar green 0-4, yellow 5-9, red 10+ (plus factor 0.40 ... 0.85, 1.0).

Two ways to run a backtest:

- :func:`backtest_var` — the straightforward loop: one :func:`value_at_risk` call per day
  on the previous window (kept as the reference the fast path is tested and benchmarked
  against);
- :func:`var_model_backtest` — the rolling models of :mod:`.var_models` (vectorized, the
  default model included) scored by :func:`backtest_summary` over a test window, with
  the blocks dated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import xlogy

from risk.measures._inputs import check_confidence
from risk.measures.errors import RiskInputError
from risk.measures.var import VAR_METHODS, value_at_risk
from risk.measures.var_models import (
    BASEL_BLOCK_DAYS,
    DEFAULT_VAR_MODEL,
    RollingForecast,
    VaRModelConfig,
    rolling_var,
)

BASEL_PLUS_FACTOR_250_99 = {5: 0.40, 6: 0.50, 7: 0.65, 8: 0.75, 9: 0.85}


@dataclass(frozen=True)
class LikelihoodRatioTest:
    statistic: float
    p_value: float
    dof: int
    reject_at_5pct: bool


@dataclass(frozen=True)
class TrafficLight:
    zone: str  # green | yellow | red
    exceptions: int
    observations: int
    cumulative_probability: float
    plus_factor: float | None
    """Basel capital multiplier add-on (defined for 250 days at 99 %; None otherwise)."""


def _lr(statistic: float, dof: int) -> LikelihoodRatioTest:
    statistic = max(float(statistic), 0.0)
    p = float(stats.chi2.sf(statistic, dof))
    return LikelihoodRatioTest(statistic, p, dof, p < 0.05)


def kupiec_pof(n_observations: int, n_exceptions: int, confidence_level: float) -> LikelihoodRatioTest:
    level = check_confidence(confidence_level)
    n, x = int(n_observations), int(n_exceptions)
    if n <= 0 or not (0 <= x <= n):
        raise RiskInputError("need 0 <= exceptions <= observations and observations > 0")
    p = 1.0 - level
    phat = x / n
    null = xlogy(n - x, 1 - p) + xlogy(x, p)
    alt = xlogy(n - x, 1 - phat) + xlogy(x, phat)
    return _lr(-2.0 * (null - alt), 1)


def transition_counts(exceptions: np.ndarray) -> tuple[int, int, int, int]:
    """``(n00, n01, n10, n11)`` of consecutive exception indicators."""
    e = np.asarray(exceptions, dtype=bool)
    prev, nxt = e[:-1], e[1:]
    return (
        int(np.sum(~prev & ~nxt)),
        int(np.sum(~prev & nxt)),
        int(np.sum(prev & ~nxt)),
        int(np.sum(prev & nxt)),
    )


def christoffersen_independence(exceptions: np.ndarray) -> LikelihoodRatioTest:
    e = np.asarray(exceptions, dtype=bool)
    if e.shape[0] < 2:
        raise RiskInputError("need at least 2 days to test independence")
    n00, n01, n10, n11 = transition_counts(e)
    pi0 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi1 = n11 / (n10 + n11) if n10 + n11 else 0.0
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    null = xlogy(n00 + n10, 1 - pi) + xlogy(n01 + n11, pi)
    alt = xlogy(n00, 1 - pi0) + xlogy(n01, pi0) + xlogy(n10, 1 - pi1) + xlogy(n11, pi1)
    return _lr(-2.0 * (null - alt), 1)


def basel_traffic_light(
    n_exceptions: int, n_observations: int = 250, confidence_level: float = 0.99
) -> TrafficLight:
    level = check_confidence(confidence_level)
    cdf = float(stats.binom.cdf(n_exceptions, n_observations, 1 - level))
    zone = "green" if cdf < 0.95 else ("red" if cdf >= 0.9999 - 1e-12 else "yellow")
    plus = None
    if n_observations == 250 and math.isclose(level, 0.99):
        plus = 0.0 if zone == "green" else (1.0 if zone == "red" else BASEL_PLUS_FACTOR_250_99[n_exceptions])
    return TrafficLight(zone, int(n_exceptions), int(n_observations), cdf, plus)


@dataclass(frozen=True)
class VaRBacktest:
    method: str
    confidence_level: float
    estimation_window: int
    forecasts: pd.Series
    """VaR forecast for each test day (positive loss), made from the previous window."""
    realised_losses: pd.Series
    exceptions: pd.Series
    n_exceptions: int
    expected_exceptions: float
    kupiec: LikelihoodRatioTest
    christoffersen: LikelihoodRatioTest
    conditional_coverage: LikelihoodRatioTest
    traffic_lights: list[TrafficLight]
    """One per consecutive 250-day block of test days, the most recent block last."""


def backtest_var(
    portfolio_returns: pd.Series,
    *,
    method: str = "historical",
    confidence_level: float = 0.99,
    estimation_window: int = 250,
    n_simulations: int = 10_000,
    seed: int = 0,
) -> VaRBacktest:
    """Roll a 1-day VaR forecast over ``portfolio_returns`` and test it.

    The forecast for day t uses the ``estimation_window`` returns before t only (no
    look-ahead). Traffic lights are computed on 250-day blocks counted back from the
    last day. Monte Carlo re-simulates every day: keep ``n_simulations`` modest.
    """
    level = check_confidence(confidence_level)
    if method not in VAR_METHODS:
        raise RiskInputError(f"method must be one of {', '.join(VAR_METHODS)}", field="method")
    r = portfolio_returns.astype(float)
    if r.shape[0] <= estimation_window + 1:
        raise RiskInputError(
            f"need more than {estimation_window + 1} returns to backtest; got {r.shape[0]}",
            field="returns",
        )
    values = r.to_numpy()
    forecasts = np.empty(values.shape[0] - estimation_window)
    for i, t in enumerate(range(estimation_window, values.shape[0])):
        window = pd.Series(values[t - estimation_window : t])
        forecasts[i] = value_at_risk(
            window, method=method, confidence_level=level,
            n_simulations=n_simulations, seed=seed + t,
        ).var
    index = r.index[estimation_window:]
    losses = -values[estimation_window:]
    exceptions = losses > forecasts
    n, x = exceptions.shape[0], int(exceptions.sum())
    pof = kupiec_pof(n, x, level)
    ind = christoffersen_independence(exceptions)
    lights = [
        basel_traffic_light(int(exceptions[end - 250 : end].sum()), 250, level)
        for end in range(n, 249, -250)
    ][::-1]
    return VaRBacktest(
        method=method,
        confidence_level=level,
        estimation_window=estimation_window,
        forecasts=pd.Series(forecasts, index=index),
        realised_losses=pd.Series(losses, index=index),
        exceptions=pd.Series(exceptions, index=index),
        n_exceptions=x,
        expected_exceptions=n * (1 - level),
        kupiec=pof,
        christoffersen=ind,
        conditional_coverage=_lr(pof.statistic + ind.statistic, 2),
        traffic_lights=lights,
    )


@dataclass(frozen=True)
class BacktestBlock:
    """One consecutive block of test days and its Basel zone."""

    start: pd.Timestamp
    end: pd.Timestamp
    exceptions: int
    zone: str
    observations: int = BASEL_BLOCK_DAYS


@dataclass(frozen=True)
class BacktestSummary:
    """Exceptions of a run of forecasts and the three tests (field names as in the API)."""

    observations: int
    exceptions: int
    expected_exceptions: float
    kupiec: LikelihoodRatioTest
    christoffersen: LikelihoodRatioTest
    conditional_coverage: LikelihoodRatioTest
    blocks: list[BacktestBlock]
    """Consecutive 250-day blocks counted back from the last test day (the most recent
    block is complete; the first ``observations % 250`` days belong to no block), oldest first."""
    exception_dates: list[pd.Timestamp]


def backtest_summary(
    index: pd.Index, losses: np.ndarray, forecasts: np.ndarray, confidence_level: float,
    *, block_days: int = BASEL_BLOCK_DAYS,
) -> BacktestSummary:
    """Score aligned forecasts against realised losses (an exception: loss > VaR)."""
    level = check_confidence(confidence_level)
    losses, forecasts = np.asarray(losses, dtype=float), np.asarray(forecasts, dtype=float)
    if losses.shape != forecasts.shape or losses.shape[0] != len(index):
        raise RiskInputError("losses, forecasts and dates must have the same length")
    if losses.shape[0] < 2:
        raise RiskInputError("need at least 2 test days to backtest", field="start")
    exceptions = losses > forecasts
    n, x = exceptions.shape[0], int(exceptions.sum())
    pof = kupiec_pof(n, x, level)
    ind = christoffersen_independence(exceptions)
    blocks = []
    for end in range(n, block_days - 1, -block_days):
        count = int(exceptions[end - block_days : end].sum())
        zone = basel_traffic_light(count, block_days, level).zone
        blocks.append(BacktestBlock(pd.Timestamp(index[end - block_days]), pd.Timestamp(index[end - 1]),
                                    count, zone, block_days))
    return BacktestSummary(
        observations=n,
        exceptions=x,
        expected_exceptions=n * (1.0 - level),
        kupiec=pof,
        christoffersen=ind,
        conditional_coverage=_lr(pof.statistic + ind.statistic, 2),
        blocks=blocks[::-1],
        exception_dates=[pd.Timestamp(d) for d in index[exceptions]],
    )


@dataclass(frozen=True)
class ModelBacktest:
    method: str
    confidence_level: float
    window_days: int
    summary: BacktestSummary
    forecast: RollingForecast
    test_index: pd.Index
    """The dates of the scored days (``summary`` covers exactly these)."""
    next_day_var: float
    """The model's forecast for the day after the last return (not yet scored)."""


def var_model_backtest(
    returns: pd.Series,
    *,
    method: str = DEFAULT_VAR_MODEL,
    confidence_level: float = 0.99,
    config: VaRModelConfig | None = None,
    test_start: pd.Timestamp | None = None,
) -> ModelBacktest:
    """Backtest a rolling model on the days of ``returns`` from ``test_start`` on.

    The model runs from the first day with a full window (``config.window_days``
    returns before it) so that everything before ``test_start`` is its history — a
    live model that has been running — and only the days from ``test_start`` on are
    scored. Raises :class:`RiskInputError` (field ``start``) when fewer than 2 days
    with a forecast remain.
    """
    config = config or VaRModelConfig()
    r = returns.astype(float)
    if r.shape[0] <= config.window_days + 1:
        raise RiskInputError(
            f"need more than {config.window_days + 1} returns to backtest with a "
            f"{config.window_days}-day window; got {r.shape[0]}", field="start")
    forecast = rolling_var(r.to_numpy(), method=method, confidence_level=confidence_level, config=config)
    index = r.index[forecast.first :]
    keep = np.ones(len(index), dtype=bool) if test_start is None else np.asarray(index >= test_start)
    if keep.sum() < 2:
        raise RiskInputError(
            f"fewer than 2 days to test after the {config.window_days}-day estimation window", field="start")
    losses = -r.to_numpy()[forecast.first :]
    summary = backtest_summary(index[keep], losses[keep], forecast.backtested[keep], forecast.confidence_level)
    return ModelBacktest(method, forecast.confidence_level, int(config.window_days), summary, forecast,
                         index[keep], forecast.next_day)
