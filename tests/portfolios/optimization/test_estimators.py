"""Estimators agree with PyPortfolioOpt 1.6 on the 20-stock data (same NaN convention)."""

import numpy as np
import pandas as pd
from pypfopt import expected_returns as peer_returns
from pypfopt import risk_models as peer_risk

from portfolios.optimization import (
    capm_return,
    ema_historical_return,
    exp_cov,
    fix_nonpositive_semidefinite,
    ledoit_wolf,
    mean_historical_return,
    sample_cov,
)


def test_mean_historical_geometric_and_arithmetic_match_peer(stock_prices, stock_returns):
    # when
    geometric = mean_historical_return(stock_returns)
    arithmetic = mean_historical_return(stock_returns, compounding=False)
    # then
    np.testing.assert_allclose(
        geometric, peer_returns.mean_historical_return(stock_prices), rtol=1e-12
    )
    np.testing.assert_allclose(
        arithmetic, peer_returns.mean_historical_return(stock_prices, compounding=False), rtol=1e-12
    )


def test_ema_and_capm_match_peer(stock_prices, stock_returns):
    np.testing.assert_allclose(
        ema_historical_return(stock_returns, span=500),
        peer_returns.ema_historical_return(stock_prices),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        capm_return(stock_returns, risk_free_rate=0.02),
        peer_returns.capm_return(stock_prices, risk_free_rate=0.02),
        rtol=1e-10,
    )


def test_risk_models_match_peer(stock_prices, stock_returns):
    np.testing.assert_allclose(
        sample_cov(stock_returns), peer_risk.sample_cov(stock_prices), rtol=1e-12
    )
    np.testing.assert_allclose(
        ledoit_wolf(stock_returns),
        peer_risk.CovarianceShrinkage(stock_prices).ledoit_wolf(),
        rtol=1e-10,
    )
    recent = stock_prices.iloc[-600:]
    np.testing.assert_allclose(
        exp_cov(recent.pct_change().dropna(how="all")),
        peer_risk.exp_cov(recent),
        rtol=1e-9,
        atol=1e-14,
    )


def test_annualisation_frequency_scales_linearly(stock_returns):
    daily = stock_returns.iloc[-300:, :3]
    np.testing.assert_allclose(sample_cov(daily, frequency=12), daily.cov() * 12, rtol=1e-12)
    np.testing.assert_allclose(
        mean_historical_return(daily, compounding=False, frequency=52), daily.mean() * 52
    )


def test_fix_nonpositive_semidefinite_clips_negative_eigenvalues():
    # given: a "correlation" matrix that is not PSD (eigenvalues 2.9, 0.1, -1.0 ... )
    bad = pd.DataFrame(
        [[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]],
        index=list("abc"),
        columns=list("abc"),
    )
    assert np.linalg.eigvalsh(bad).min() < 0
    # when
    fixed = fix_nonpositive_semidefinite(bad)
    # then
    eigenvalues = np.linalg.eigvalsh(fixed)
    assert eigenvalues.min() > -1e-12
    np.testing.assert_allclose(
        np.sort(eigenvalues)[1:], np.sort(np.linalg.eigvalsh(bad))[1:], atol=1e-12
    )
    assert list(fixed.index) == ["a", "b", "c"]
