"""Correlation monitoring: correlation matrices, rolling and average pairwise correlation.

The average pairwise correlation of a portfolio is the plain mean of the off-diagonal
correlations between its holdings (assets with non-zero weight); ``weighted=True`` gives
the weight-weighted mean ``sum_{i!=j} w_i w_j rho_ij / sum_{i!=j} w_i w_j`` instead.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from risk.measures._inputs import clean_returns
from risk.measures.errors import RiskInputError


def held_symbols(weights: Mapping[str, float], returns: pd.DataFrame) -> list[str]:
    missing = sorted(s for s, w in weights.items() if w != 0 and s not in returns.columns)
    if missing:
        raise RiskInputError(
            f"no return history for {', '.join(missing)}", field="weights", missing=missing
        )
    return [c for c in returns.columns if float(weights.get(c, 0.0)) != 0.0]


def correlation_matrix(returns: pd.DataFrame, window: int | None = None) -> pd.DataFrame:
    """Pearson correlation of the last ``window`` rows (all rows when None).

    Constant columns (zero variance) get correlation 0 with the others, not NaN.
    """
    panel = returns if window is None else returns.iloc[-int(window) :]
    values = clean_returns(panel)
    std = values.std(axis=0, ddof=1)
    centred = values - values.mean(axis=0)
    cov = centred.T @ centred / (values.shape[0] - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = cov / np.outer(std, std)
    corr = np.where(np.isfinite(corr), corr, 0.0)
    np.fill_diagonal(corr, 1.0)
    return pd.DataFrame(np.clip(corr, -1.0, 1.0), index=returns.columns, columns=returns.columns)


def average_pairwise_correlation(
    returns: pd.DataFrame,
    weights: Mapping[str, float] | None = None,
    *,
    window: int | None = None,
    weighted: bool = False,
) -> float | None:
    """Mean off-diagonal correlation of the holdings; None with fewer than two holdings."""
    symbols = list(returns.columns) if weights is None else held_symbols(weights, returns)
    if len(symbols) < 2:
        return None
    corr = correlation_matrix(returns[symbols], window).to_numpy()
    off = ~np.eye(len(symbols), dtype=bool)
    if not weighted or weights is None:
        return float(corr[off].mean())
    w = np.abs(np.array([float(weights[s]) for s in symbols]))
    pair = np.outer(w, w)
    return float((pair * corr)[off].sum() / pair[off].sum())


def rolling_average_correlation(
    returns: pd.DataFrame, weights: Mapping[str, float] | None = None, *, window: int = 63
) -> pd.Series:
    """Average pairwise correlation of the holdings over a rolling window (one value per date).

    The first ``window - 1`` dates have no value and are dropped.
    """
    if window < 3:
        raise RiskInputError("window must be at least 3", field="window")
    symbols = list(returns.columns) if weights is None else held_symbols(weights, returns)
    if len(symbols) < 2:
        return pd.Series(dtype=float, name="average_correlation")
    panel = returns[symbols]
    clean_returns(panel)
    stacked = panel.rolling(window).corr().dropna(how="all")
    k = len(symbols)
    values = stacked.to_numpy().reshape(-1, k, k)
    off = ~np.eye(k, dtype=bool)
    averages = np.nanmean(values[:, off], axis=1)
    dates = stacked.index.get_level_values(0)[::k]
    return pd.Series(averages, index=dates, name="average_correlation")
