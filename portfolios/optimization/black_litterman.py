"""Black-Litterman: blend the investor's views with the market-implied prior.

Prior ``pi = r_f + delta Sigma w_mkt`` (market weights default to equal weights).
Views are absolute (``{"symbol": "AAPL", "value": 0.10, "confidence": 0.6}``) or relative
(``{"long": "AAPL", "short": "MSFT", "value": 0.02, "confidence": 0.5}``): an expected
annual return, or outperformance of ``long`` over ``short``. Confidences in (0, 1] set the
view uncertainty by Idzorek's method as PyPortfolioOpt does: ``omega_k = tau * (1 - c)/c *
P_k Sigma P_k'``. Posterior (He & Litterman 1999):
``mu = pi + tau Sigma P' (P tau Sigma P' + Omega)^-1 (Q - P pi)``,
``Sigma_BL = Sigma + tau Sigma - tau Sigma P' (P tau Sigma P' + Omega)^-1 P tau Sigma``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .exceptions import OptimizationError


@dataclass(frozen=True)
class View:
    """One view: ``sum_i pick[i] * return_i = value`` with ``confidence`` in (0, 1]."""

    pick: Mapping[str, float]
    value: float
    confidence: float = 0.5


def view_from_mapping(raw: Mapping[str, Any] | View) -> View:
    if isinstance(raw, View):
        return raw
    confidence = float(raw.get("confidence", 0.5))
    if raw.get("symbol") is not None:
        return View({raw["symbol"]: 1.0}, float(raw["value"]), confidence)
    if raw.get("long") is not None and raw.get("short") is not None:
        if raw["long"] == raw["short"]:
            raise OptimizationError("a relative view needs two different symbols", field="views")
        return View({raw["long"]: 1.0, raw["short"]: -1.0}, float(raw["value"]), confidence)
    raise OptimizationError(
        "a view needs 'symbol' (absolute) or 'long' and 'short' (relative)", field="views"
    )


def black_litterman_posterior(
    *,
    cov: pd.DataFrame,
    views: Sequence[Mapping[str, Any] | View],
    market_weights: Mapping[str, float] | None = None,
    risk_aversion: float = 2.5,
    risk_free_rate: float = 0.0,
    tau: float = 0.05,
) -> tuple[pd.Series, pd.DataFrame]:
    """Posterior expected returns and covariance (annualised), aligned to ``cov``."""
    symbols = list(cov.index)
    sigma = cov.to_numpy(dtype=float)
    if market_weights:
        w_mkt = np.array([float(market_weights.get(s, 0.0)) for s in symbols])
        if w_mkt.sum() <= 0 or (w_mkt < 0).any():
            raise OptimizationError(
                "market_weights must be non-negative and not all zero", field="market_weights"
            )
        w_mkt = w_mkt / w_mkt.sum()
    else:
        w_mkt = np.full(len(symbols), 1.0 / len(symbols))
    prior = risk_free_rate + risk_aversion * sigma @ w_mkt
    parsed = [view_from_mapping(v) for v in views]
    if not parsed:
        return pd.Series(prior, index=symbols), cov.copy()
    index = {s: i for i, s in enumerate(symbols)}
    P = np.zeros((len(parsed), len(symbols)))
    Q = np.zeros(len(parsed))
    confidences = np.zeros(len(parsed))
    for k, view in enumerate(parsed):
        for symbol, coefficient in view.pick.items():
            if symbol not in index:
                raise OptimizationError(
                    f"view {k + 1} names {symbol!r}, which is not in the universe", field="views"
                )
            P[k, index[symbol]] = coefficient
        if not 0 < view.confidence <= 1:
            raise OptimizationError(f"view {k + 1}: confidence must be in (0, 1]", field="views")
        Q[k] = view.value
        confidences[k] = view.confidence
    tau_sigma = tau * sigma
    view_variance = np.einsum("ki,ij,kj->k", P, tau_sigma, P)
    omega = np.diag((1 - confidences) / confidences * view_variance)
    middle = P @ tau_sigma @ P.T + omega
    gain = np.linalg.solve(middle, np.eye(len(Q)))
    posterior_mu = prior + tau_sigma @ P.T @ gain @ (Q - P @ prior)
    posterior_sigma = sigma + tau_sigma - tau_sigma @ P.T @ gain @ P @ tau_sigma
    posterior_sigma = (posterior_sigma + posterior_sigma.T) / 2
    return pd.Series(posterior_mu, index=symbols), pd.DataFrame(
        posterior_sigma, index=symbols, columns=symbols
    )
