import numpy as np
import pandas as pd
import pytest

from risk.measures import var_historical, var_monte_carlo, var_parametric
from risk.measures.attribution import factor_risk, risk_attribution

WEIGHTS = {"AAPL": 0.3, "GE": 0.2, "XOM": 0.25, "JPM": 0.15, "WMT": 0.1}
CLASSES = {"AAPL": "equity", "GE": "equity", "XOM": "commodity", "JPM": "equity", "WMT": "equity"}


@pytest.mark.parametrize("horizon", [1, 5])
def test_parametric_components_sum_to_the_closed_form_total(stock_returns, horizon):
    # when
    att = risk_attribution(stock_returns, WEIGHTS, method="parametric", confidence_level=0.99,
                           horizon_days=horizon, asset_classes=CLASSES)
    total = var_parametric(stock_returns, WEIGHTS, confidence_level=0.99, horizon_days=horizon)
    # then
    assert sum(a.component_var for a in att.by_asset) == pytest.approx(total.var, rel=1e-12)
    assert att.var == pytest.approx(total.var, rel=1e-12)
    assert sum(a.component_es for a in att.by_asset) == pytest.approx(total.expected_shortfall, rel=1e-12)
    assert sum(att.by_asset_class.values()) == pytest.approx(total.var, rel=1e-12)
    assert set(att.by_asset_class) == {"equity", "commodity"}
    assert sum(a.var_share for a in att.by_asset) == pytest.approx(1.0)


def test_parametric_marginal_var_is_the_gradient(stock_returns):
    # given
    att = risk_attribution(stock_returns, WEIGHTS, method="parametric")
    bumped = dict(WEIGHTS, GE=WEIGHTS["GE"] + 1e-6)
    # when
    numeric = (var_parametric(stock_returns, bumped).var - var_parametric(stock_returns, WEIGHTS).var) / 1e-6
    # then
    ge = next(a for a in att.by_asset if a.symbol == "GE")
    assert ge.marginal_var == pytest.approx(numeric, rel=1e-4)


def test_historical_components_sum_to_historical_var_and_es(stock_returns):
    # when
    att = risk_attribution(stock_returns, WEIGHTS, method="historical", confidence_level=0.975)
    total = var_historical(stock_returns, WEIGHTS, confidence_level=0.975)
    # then
    assert sum(a.component_var for a in att.by_asset) == pytest.approx(total.var, rel=1e-12)
    assert sum(a.component_es for a in att.by_asset) == pytest.approx(total.expected_shortfall, rel=1e-12)


def test_monte_carlo_components_sum_to_the_same_seeded_var(stock_returns):
    # when
    att = risk_attribution(stock_returns, WEIGHTS, method="monte_carlo", n_simulations=50_000, seed=4)
    fast = var_monte_carlo(stock_returns, WEIGHTS, n_simulations=50_000, seed=4)
    # then the full-scenario path and the projected fast path draw the same numbers
    assert att.var == pytest.approx(fast.var, rel=1e-5)
    assert sum(a.component_es for a in att.by_asset) == pytest.approx(att.expected_shortfall, rel=1e-12)


def test_factor_view_splits_variance_exactly(stock_returns, spy_returns):
    # when
    fr = factor_risk(stock_returns, WEIGHTS, spy_returns)
    # then
    assert fr.systematic_volatility**2 + fr.idiosyncratic_volatility**2 == pytest.approx(
        fr.total_volatility**2, rel=1e-10)
    joined = stock_returns.join(spy_returns.rename("SPY"), how="inner")
    port = joined[list(WEIGHTS)].to_numpy() @ np.array(list(WEIGHTS.values()))
    beta = np.cov(port, joined["SPY"])[0, 1] / joined["SPY"].var()
    assert fr.beta == pytest.approx(beta, rel=1e-10)
    assert 0.5 < fr.systematic_share < 1.0


def test_attribution_of_an_empty_portfolio_is_an_error(stock_returns):
    from risk.measures import RiskInputError

    with pytest.raises(RiskInputError):
        risk_attribution(stock_returns, {}, method="parametric")
    with pytest.raises(RiskInputError) as info:
        risk_attribution(stock_returns, WEIGHTS, method="nope")
    assert info.value.field == "method"
    assert isinstance(stock_returns, pd.DataFrame)
