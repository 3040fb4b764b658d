"""A small Markov regime-switching market for the detector's tests (no Django).

Daily log returns are Gaussian with a regime-dependent drift and volatility; the
regime follows a Markov chain with the given expected durations. Not the product's
synthetic market (``marketdata.providers.synthetic``): a minimal stand-in whose
ground truth is known exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# annualised drift and volatility, expected duration in days
PARAMS = {
    "bull": (0.18, 0.10, 250),
    "sideways": (0.00, 0.18, 150),
    "bear": (-0.30, 0.32, 100),
}


def simulate_regime_market(n_days: int = 2520, seed: int = 0) -> tuple[pd.Series, pd.Series]:
    """Index levels and the true regime per day, on business days from 2010-01-01."""
    rng = np.random.default_rng(seed)
    names = list(PARAMS)
    regimes = []
    state = 0
    while len(regimes) < n_days:
        duration = rng.geometric(1.0 / PARAMS[names[state]][2])
        regimes.extend([names[state]] * duration)
        state = rng.choice([i for i in range(3) if i != state])
    regimes = regimes[:n_days]
    drift = np.array([PARAMS[r][0] for r in regimes]) / 252
    vol = np.array([PARAMS[r][1] for r in regimes]) / np.sqrt(252)
    log_ret = drift - 0.5 * vol**2 + vol * rng.standard_normal(n_days)
    dates = pd.bdate_range("2010-01-01", periods=n_days)
    prices = pd.Series(100 * np.exp(np.cumsum(log_ret)), index=dates, name="INDEX")
    return prices, pd.Series(regimes, index=dates, name="regime")
