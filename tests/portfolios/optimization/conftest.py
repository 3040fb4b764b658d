"""Fixtures of the optimization engine tests: the 20-stock data and a factor-model universe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DATA = Path(__file__).resolve().parents[4] / "shared" / "data"
if not DATA.exists():
    DATA = Path("/work/shared/data")


def factor_universe(n: int, *, factors: int = 5, seed: int = 0) -> tuple[pd.Series, pd.DataFrame]:
    """A synthetic universe whose covariance is ``B F B' + D`` (the same generator as bench/)."""
    rng = np.random.default_rng(seed)
    loadings = rng.normal(0, 1, (n, factors)) * np.array([0.16] + [0.07] * (factors - 1))
    loadings[:, 0] = np.abs(loadings[:, 0]) + 0.05
    specific = rng.uniform(0.15, 0.4, n)
    cov = loadings @ loadings.T + np.diag(specific**2)
    mu = 0.02 + loadings @ np.array([0.08] + [0.02] * (factors - 1)) + rng.normal(0, 0.03, n)
    symbols = [f"A{i:03d}" for i in range(n)]
    return pd.Series(mu, index=symbols), pd.DataFrame(cov, index=symbols, columns=symbols)


@pytest.fixture(scope="session")
def stock_prices() -> pd.DataFrame:
    return pd.read_csv(DATA / "stock_prices.csv", parse_dates=["date"], index_col="date")


@pytest.fixture(scope="session")
def stock_returns(stock_prices: pd.DataFrame) -> pd.DataFrame:
    from portfolios.optimization import returns_from_prices

    return returns_from_prices(stock_prices)


@pytest.fixture(scope="session")
def mu_cov(stock_returns: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    from portfolios.optimization import mean_historical_return, sample_cov

    return mean_historical_return(stock_returns), sample_cov(stock_returns)


@pytest.fixture(scope="session")
def make_factor_universe():
    return factor_universe
