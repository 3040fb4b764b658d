"""Volatility forecasts of a portfolio's return series.

- :func:`ewma_weights` — normalised exponential weights ``w_j ∝ lam^(n-1-j)`` over a
  window of ``n`` observations, ``lam = 0.5 ** (1 / halflife)``;
- :func:`ewma_volatility` — the exponentially weighted (RiskMetrics, J.P. Morgan 1996)
  one-day-ahead volatility ``sqrt(sum_j w_j r_j^2)`` (zero mean): the RiskMetrics
  recursion ``sigma^2_{t+1} = lam sigma^2_t + (1 - lam) r_t^2`` started at the window's
  first observation and renormalised for the finite window (RiskMetrics' daily decay
  0.94 is a halflife of about 11 days).

Returns are simple daily returns (a 1-D array, oldest first); the result is a daily
standard deviation unless ``periods_per_year`` asks for it annualised
(``sigma * sqrt(periods_per_year)``).
"""

from __future__ import annotations

import math

import numpy as np

from risk.measures.errors import RiskInputError


def ewma_lambda(halflife: float) -> float:
    """The decay of an EWMA with the given halflife in observations."""
    if not halflife > 0:
        raise RiskInputError("halflife must be positive", field="halflife")
    return 0.5 ** (1.0 / float(halflife))


def ewma_weights(n: int, halflife: float) -> np.ndarray:
    """Weights of the last ``n`` observations (oldest first), summing to one."""
    lam = ewma_lambda(halflife)
    w = lam ** np.arange(n - 1, -1, -1, dtype=float)
    return w / w.sum()


def ewma_volatility(
    returns: np.ndarray, *, halflife: float = 40.0, periods_per_year: int | None = None
) -> float:
    """One-step-ahead EWMA volatility of ``returns`` (see the module docstring).

    Raises :class:`RiskInputError` for fewer than two returns or non-finite values.
    """
    r = np.asarray(returns, dtype=float).ravel()
    if r.size < 2:
        raise RiskInputError("need at least two returns for a volatility forecast", field="returns")
    if not np.all(np.isfinite(r)):
        raise RiskInputError("returns must be finite", field="returns")
    sigma = math.sqrt(float(ewma_weights(r.size, halflife) @ (r * r)))
    return sigma * math.sqrt(periods_per_year) if periods_per_year else sigma
