"""Return panels for the engine tests: seeded synthetic data and the real stock prices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DATA = Path(__file__).resolve().parents[4] / "shared" / "data"
if not DATA.exists():  # the checkout lives at /work/main with shared/ beside it
    DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
if not DATA.exists():  # a helper's worktree, /work/wt/<name>
    DATA = Path("/work/shared/data")


@pytest.fixture(scope="session")
def normal_panel() -> pd.DataFrame:
    """2,000 days of correlated normal returns for 3 assets (seeded)."""
    rng = np.random.default_rng(7)
    cov = np.array([[4.0, 1.2, 0.6], [1.2, 2.25, 0.45], [0.6, 0.45, 1.0]]) * 1e-4
    mean = np.array([5e-4, 3e-4, 1e-4])
    values = rng.multivariate_normal(mean, cov, size=2000)
    dates = pd.bdate_range("2015-01-01", periods=2000)
    return pd.DataFrame(values, index=dates, columns=["AAA", "BBB", "CCC"])


@pytest.fixture(scope="session")
def stock_returns() -> pd.DataFrame:
    """Simple daily returns of 5 real stocks from 2005 on (no gaps)."""
    prices = pd.read_csv(DATA / "stock_prices.csv", parse_dates=["date"], index_col="date")
    prices = prices[["AAPL", "GE", "XOM", "JPM", "WMT"]].loc["2005":]
    return prices.pct_change().dropna()


@pytest.fixture(scope="session")
def spy_returns() -> pd.Series:
    prices = pd.read_csv(DATA / "spy_prices.csv", parse_dates=["date"], index_col="date")
    return prices["SPY"].pct_change().dropna()


@pytest.fixture(scope="session")
def stock_prices() -> pd.DataFrame:
    """All 20 stocks' adjusted closes, 1989-12-29 .. 2018-04-11 (empty before a listing)."""
    return pd.read_csv(DATA / "stock_prices.csv", parse_dates=["date"], index_col="date")
