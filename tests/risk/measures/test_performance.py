import empyrical
import numpy as np
import pandas as pd
import pytest

from risk.measures import performance_metrics
from risk.measures.performance import max_drawdown


def test_metrics_agree_with_empyrical_on_real_returns(stock_returns, spy_returns):
    # given
    returns = stock_returns["JPM"].loc["2006":"2012"]
    bench = spy_returns.reindex(returns.index)
    # when
    m = performance_metrics(returns, bench, risk_free_rate=0.02)
    # then
    rf = 0.02 / 252
    assert m.sharpe_ratio == pytest.approx(empyrical.sharpe_ratio(returns, risk_free=rf), rel=1e-10)
    assert m.sortino_ratio == pytest.approx(
        empyrical.sortino_ratio(returns, required_return=rf), rel=1e-10
    )
    assert m.max_drawdown == pytest.approx(-empyrical.max_drawdown(returns), rel=1e-12)
    assert m.annual_return == pytest.approx(empyrical.annual_return(returns), rel=1e-10)
    assert m.annual_volatility == pytest.approx(empyrical.annual_volatility(returns), rel=1e-10)
    assert m.calmar_ratio == pytest.approx(empyrical.calmar_ratio(returns), rel=1e-10)
    alpha, beta = empyrical.alpha_beta(returns, bench, risk_free=rf)
    assert m.beta == pytest.approx(beta, rel=1e-10)
    assert m.alpha == pytest.approx(alpha, rel=1e-8)
    assert m.tracking_error == pytest.approx(
        empyrical.annual_volatility(returns - bench), rel=1e-10
    )


def test_drawdown_counts_a_fall_from_the_starting_wealth():
    # given: the first period already loses 10 %, then recovers, then a 20 % fall
    r = np.array([-0.1, 0.2, -0.2, 0.05])
    # when
    m = performance_metrics(r)
    # then wealth: 0.9, 1.08, 0.864, 0.9072
    assert m.max_drawdown == pytest.approx(0.2)
    assert m.max_drawdown == pytest.approx(-empyrical.max_drawdown(r))
    assert m.max_drawdown_duration == 2  # the last two periods sit below the 1.08 peak


def test_hit_rate_and_profit_factor_by_hand():
    # given
    r = pd.Series([0.02, -0.01, 0.03, -0.02, 0.0])
    # when
    m = performance_metrics(r)
    # then
    assert m.hit_rate == pytest.approx(2 / 5)
    assert m.profit_factor == pytest.approx(0.05 / 0.03)


def test_ratios_without_a_denominator_are_none():
    # given a series with no losses and no dispersion
    m = performance_metrics(np.array([0.01, 0.01, 0.01]))
    # then
    assert m.profit_factor is None
    assert m.sharpe_ratio is None
    assert m.max_drawdown == 0.0
    assert m.calmar_ratio is None


def test_information_ratio_is_active_return_over_tracking_error():
    # given
    r = np.array([0.01, 0.02, -0.01, 0.015])
    b = np.array([0.005, 0.01, -0.02, 0.01])
    # when
    m = performance_metrics(r, b)
    # then
    active = r - b
    te = active.std(ddof=1) * np.sqrt(252)
    assert m.tracking_error == pytest.approx(te)
    assert m.information_ratio == pytest.approx(active.mean() * 252 / te)


def test_max_drawdown_of_an_empty_series_is_zero():
    assert max_drawdown(np.array([])) == 0.0
