"""HRP against PyPortfolioOpt 1.6's published numbers (tests/test_hrp.py) on stock_prices.csv.

Their data has late-starting series (BABA from 2014, FB from 2012, ...): the returns are
``prices.pct_change().dropna(how="all")`` with NaN before a listing, so the correlation HRP
clusters on must be the pairwise-complete ``returns.corr()``.
"""

import numpy as np
import pandas as pd
import pytest
from pypfopt import HRPOpt

from portfolios.optimization import (
    Constraints,
    OptimizationError,
    ledoit_wolf,
    mean_historical_return,
    optimize,
    sample_cov,
)
from portfolios.optimization.risk_parity import (
    cluster_variance,
    hrp_weights,
    pairwise_correlation,
)

# PyPortfolioOpt tests/resources/weights_hrp.csv (test_hrp_portfolio, single linkage)
PUBLISHED_HRP_WEIGHTS = {
    "AAPL": 0.022258941278778387,
    "AMD": 0.022294021796692116,
    "AMZN": 0.016086842079874982,
    "BABA": 0.07963382071794088,
    "BAC": 0.014409222455552267,
    "BBY": 0.03406419438245041,
    "FB": 0.06272994714663536,
    "GE": 0.05519063444162851,
    "GM": 0.055576660241857236,
    "GOOG": 0.04956008428992926,
    "JPM": 0.017675709092515715,
    "MA": 0.038127373497320226,
    "PFE": 0.07786528342813452,
    "RRC": 0.03161528695094598,
    "SBUX": 0.039844436656239136,
    "SHLD": 0.027113184241298872,
    "T": 0.11138956508836473,
    "UAA": 0.027115909570750083,
    "WMT": 0.10569551148587902,
    "XOM": 0.11175337115721229,
}


def _hrp(returns: pd.DataFrame, **kwargs):
    # the autopilot's call: estimates and the returns they came from
    return optimize(
        objective="hrp",
        expected_returns=mean_historical_return(returns),
        cov=sample_cov(returns),
        returns=returns,
        **kwargs,
    )


def test_hrp_portfolio(stock_returns):
    # given: late-starting series
    assert stock_returns.notna().sum().min() < len(stock_returns) / 5
    # when
    w = _hrp(stock_returns).weights
    # then: their assertions (rtol 1e-2), and in fact to rounding
    published = pd.Series(PUBLISHED_HRP_WEIGHTS)
    pd.testing.assert_series_equal(published, w[published.index], check_names=False, rtol=1e-2)
    np.testing.assert_allclose(w[published.index], published, rtol=1e-10)
    assert set(w.index) == set(stock_returns.columns)
    np.testing.assert_almost_equal(w.sum(), 1)
    assert (w >= 0).all()


def test_portfolio_performance(stock_returns):
    # given: PyPortfolioOpt's performance uses arithmetic mean returns, rf = 0.02
    mu = mean_historical_return(stock_returns, compounding=False)
    # when
    result = optimize(
        objective="hrp",
        expected_returns=mu,
        cov=sample_cov(stock_returns),
        returns=stock_returns,
        risk_free_rate=0.02,
    )
    # then
    np.testing.assert_allclose(
        (result.expected_return, result.volatility, result.sharpe_ratio),
        (0.21353402380950973, 0.17844159743748936, 1.084579081272277),
    )


def test_pass_cov_matrix(stock_returns):
    # given: a risk model only (Ledoit-Wolf, equal to PyPortfolioOpt's CovarianceShrinkage)
    cov = ledoit_wolf(stock_returns)
    # when
    result = optimize(objective="hrp", expected_returns=None, cov=cov)
    # then
    assert result.expected_return is None and result.sharpe_ratio is None
    np.testing.assert_almost_equal(result.volatility, 0.10002783894982334)


def test_cluster_var(stock_returns):
    # given: the daily pairwise covariance
    cov = stock_returns.cov()
    tickers = ["SHLD", "AMD", "BBY", "RRC", "FB", "WMT", "T", "BABA", "PFE", "UAA"]
    members = [cov.index.get_loc(t) for t in tickers]
    # when
    var = cluster_variance(cov.to_numpy(), members)
    # then
    np.testing.assert_almost_equal(var, 0.00012842967106653283)


def test_quasi_dag(stock_returns):
    # when
    order = _hrp(stock_returns).details["cluster_order"]
    # then: their [12, 6, 15, 14, 2] in the csv's column order
    assert order[:5] == list(stock_returns.columns[[12, 6, 15, 14, 2]])
    assert sorted(order) == sorted(stock_returns.columns)


def test_hrp_matches_peer_given_returns_or_a_covariance_only(stock_returns):
    # given: the peer on the same inputs, both ways
    by_returns = pd.Series(HRPOpt(stock_returns).optimize(linkage_method="single"))
    cov = sample_cov(stock_returns)
    by_cov = pd.Series(HRPOpt(cov_matrix=cov).optimize(linkage_method="single"))
    # when
    ours_by_returns = _hrp(stock_returns).weights
    ours_by_cov = optimize(objective="hrp", expected_returns=None, cov=cov).weights
    # then: a covariance alone is clustered on its own correlation, which differs here
    np.testing.assert_allclose(ours_by_returns, by_returns[cov.index], atol=1e-12)
    np.testing.assert_allclose(ours_by_cov, by_cov[cov.index], atol=1e-12)
    assert (ours_by_returns - ours_by_cov).abs().max() > 0.01


def test_bisection_of_uncorrelated_assets_is_the_inverse_variance_portfolio():
    # given: a diagonal covariance, where every split's alpha is a ratio of inverse variances
    variances = np.array([0.04, 0.09, 0.01, 0.25, 0.16])
    names = list("abcde")
    cov = pd.DataFrame(np.diag(variances), index=names, columns=names)
    # when
    weights = hrp_weights(cov)
    # then
    np.testing.assert_allclose(weights, (1 / variances) / (1 / variances).sum(), rtol=1e-12)


def test_hrp_with_exclusions_clusters_the_eligible_returns(stock_returns):
    # given
    excluded = ["BABA", "FB"]
    rest = [s for s in stock_returns.columns if s not in excluded]
    peer = pd.Series(HRPOpt(stock_returns[rest]).optimize(linkage_method="single"))
    # when
    result = _hrp(stock_returns, constraints=Constraints(excluded=excluded, cash_buffer=0.1))
    # then
    assert (result.weights[excluded] == 0).all()
    np.testing.assert_allclose(result.weights[rest], 0.9 * peer[rest], atol=1e-12)
    assert set(result.details["cluster_order"]) == set(rest)


def test_hrp_refuses_returns_that_never_overlap():
    # given: b's history starts after a's ends
    index = pd.bdate_range("2020-01-01", periods=120)
    rng = np.random.default_rng(0)
    returns = pd.DataFrame(rng.normal(0, 0.01, (120, 3)), index=index, columns=["a", "b", "c"])
    returns.loc[index[60:], "a"] = np.nan
    returns.loc[index[:60], "b"] = np.nan
    cov = pd.DataFrame(np.diag([1e-4, 1e-4, 1e-4]), index=returns.columns, columns=returns.columns)
    # when / then
    with pytest.raises(OptimizationError, match="HRP cannot correlate a and b") as info:
        optimize(objective="hrp", expected_returns=None, cov=cov, returns=returns)
    assert info.value.field == "returns"


def test_pairwise_correlation_is_pandas_corr():
    # given: late starts, a pair that shares one day, and complete data
    rng = np.random.default_rng(3)
    values = rng.normal(0.0005, 0.02, (400, 6))
    values[:, 1] += 0.5 * values[:, 0]
    for column, start in enumerate([0, 50, 120, 399, 0, 300]):
        values[:start, column] = np.nan
    late = pd.DataFrame(values, columns=list("abcdef"))
    complete = late[["a", "b", "e"]].dropna()
    # when
    ours, theirs = pairwise_correlation(late), late.corr()
    # then: d shares a single day with the others, so its correlations are NaN in both
    np.testing.assert_array_equal(ours.isna(), theirs.isna() & ~np.eye(6, dtype=bool))
    np.testing.assert_allclose(
        ours.drop(index="d", columns="d"), theirs.drop(index="d", columns="d"), atol=1e-14
    )
    np.testing.assert_allclose(pairwise_correlation(complete), complete.corr(), atol=1e-14)
