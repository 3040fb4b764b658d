"""Validation and alignment shared by the risk measures (weights, return panels, levels)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from risk.measures.errors import RiskInputError


def check_confidence(confidence_level: float) -> float:
    """Return the level as a float in (0.5, 1), or raise (VaR below the median is meaningless)."""
    level = float(confidence_level)
    if not (0.5 < level < 1.0) or not math.isfinite(level):
        raise RiskInputError(
            f"confidence_level must lie strictly between 0.5 and 1; got {confidence_level}",
            field="confidence_level",
        )
    return level


def check_horizon(horizon_days: int) -> int:
    horizon = int(horizon_days)
    if horizon < 1 or horizon != horizon_days:
        raise RiskInputError(
            f"horizon_days must be a positive integer; got {horizon_days}", field="horizon_days"
        )
    return horizon


def aligned_weights(weights: Mapping[str, float], returns: pd.DataFrame) -> np.ndarray:
    """Weights as a vector in the column order of ``returns``.

    Symbols of ``returns`` absent from ``weights`` get weight 0; a weighted symbol
    missing from ``returns`` is an error (its risk would silently vanish).
    """
    missing = sorted(s for s, w in weights.items() if s not in returns.columns and w != 0)
    if missing:
        raise RiskInputError(
            f"no return history for {', '.join(missing)}", field="weights", missing=missing
        )
    w = np.array([float(weights.get(c, 0.0)) for c in returns.columns], dtype=float)
    if not np.all(np.isfinite(w)):
        raise RiskInputError("weights must be finite numbers", field="weights")
    return w


def clean_returns(returns: pd.DataFrame, *, min_rows: int = 2) -> np.ndarray:
    """The panel as a float matrix, rejecting NaN/inf and panels that are too short."""
    values = np.asarray(returns, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    if values.shape[0] < min_rows:
        raise RiskInputError(
            f"need at least {min_rows} return observations; got {values.shape[0]}",
            field="returns",
        )
    if not np.all(np.isfinite(values)):
        raise RiskInputError(
            "returns contain missing or infinite values; use dates where every symbol has a price",
            field="returns",
        )
    return values


def portfolio_returns(weights: Mapping[str, float], returns: pd.DataFrame) -> pd.Series:
    """One-period portfolio returns ``R @ w`` (what the weights leave of 1.0 is cash at 0 %)."""
    w = aligned_weights(weights, returns)
    values = clean_returns(returns, min_rows=1)
    return pd.Series(values @ w, index=returns.index, name="portfolio")


def compound_over(series: np.ndarray, horizon: int) -> np.ndarray:
    """Overlapping ``horizon``-period compounded returns of a one-period return series."""
    if horizon == 1:
        return series
    log_growth = np.log1p(series)
    if not np.all(np.isfinite(log_growth)):
        raise RiskInputError("a portfolio return of -100 % or worse cannot be compounded")
    csum = np.concatenate([[0.0], np.cumsum(log_growth)])
    return np.expm1(csum[horizon:] - csum[:-horizon])
