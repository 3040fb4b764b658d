"""Every objective: closed forms, peer libraries, or the defining optimality property."""

import numpy as np
import pandas as pd
import pytest
from pypfopt import BlackLittermanModel, EfficientCVaR, EfficientFrontier, HRPOpt, black_litterman

from portfolios.optimization import (
    Constraints,
    InfeasibleConstraints,
    OptimizationError,
    optimize,
    risk_aversion_for_tier,
)


def test_max_utility_matches_peer_with_tier_risk_aversion(mu_cov):
    # given
    mu, cov = mu_cov
    delta = risk_aversion_for_tier("conservative")
    peer = EfficientFrontier(mu, cov)
    peer.max_quadratic_utility(risk_aversion=delta)
    # when
    ours = optimize(objective="max_utility", expected_returns=mu, cov=cov, risk_tier="conservative")
    # then
    assert ours.details["risk_aversion"] == 10.0
    np.testing.assert_allclose(
        ours.weights, pd.Series(peer.clean_weights(rounding=None)), atol=1e-5
    )


def test_risk_tiers_order_volatility(mu_cov):
    mu, cov = mu_cov
    vols = [
        optimize(objective="max_utility", expected_returns=mu, cov=cov, risk_tier=tier).volatility
        for tier in ("conservative", "moderate", "balanced", "growth", "aggressive")
    ]
    assert vols == sorted(vols)
    with pytest.raises(OptimizationError, match="unknown risk tier 'reckless'"):
        risk_aversion_for_tier("reckless")


def test_min_cvar_matches_peer(stock_returns, mu_cov):
    # given
    mu, cov = mu_cov
    scenarios = stock_returns.iloc[-750:].dropna()
    peer = EfficientCVaR(mu, scenarios, beta=0.95)
    peer.min_cvar()
    _, peer_cvar = peer.portfolio_performance()
    # when
    ours = optimize(objective="min_cvar", expected_returns=mu, cov=cov, returns=scenarios)
    # then
    assert ours.details["cvar"] == pytest.approx(peer_cvar, abs=1e-6)


def test_risk_parity_contributions_equal_budgets(mu_cov):
    # given
    mu, cov = mu_cov
    budgets = {s: (2.0 if i < 5 else 1.0) for i, s in enumerate(mu.index)}
    # when
    equal = optimize(objective="risk_parity", expected_returns=mu, cov=cov)
    custom = optimize(objective="risk_parity", expected_returns=mu, cov=cov, risk_budgets=budgets)
    # then
    np.testing.assert_allclose(
        list(equal.details["risk_contributions"].values()), 1 / 20, atol=1e-9
    )
    target = np.array(list(budgets.values())) / sum(budgets.values())
    np.testing.assert_allclose(
        list(custom.details["risk_contributions"].values()), target, atol=1e-9
    )
    assert custom.weights.sum() == pytest.approx(1.0, abs=1e-12)


def test_risk_parity_honours_exclusions_and_cash_buffer(mu_cov):
    mu, cov = mu_cov
    result = optimize(
        objective="risk_parity",
        expected_returns=mu,
        cov=cov,
        constraints=Constraints(excluded=["AMD"], cash_buffer=0.1),
    )
    assert result.weights["AMD"] == 0
    assert result.weights.sum() == pytest.approx(0.9, abs=1e-12)
    contributions = {s: v for s, v in result.details["risk_contributions"].items() if s != "AMD"}
    np.testing.assert_allclose(list(contributions.values()), 1 / 19, atol=1e-9)


def test_hrp_matches_peer(stock_returns, mu_cov):
    # given
    returns = stock_returns.iloc[-1000:].dropna()
    cov = returns.cov() * 252
    peer = HRPOpt(returns)
    peer.optimize()
    # when
    ours = optimize(objective="hrp", expected_returns=None, cov=cov)
    # then
    np.testing.assert_allclose(
        ours.weights, pd.Series(peer.clean_weights(rounding=None))[cov.index], atol=1e-10
    )
    assert ours.expected_return is None


def test_black_litterman_posterior_matches_peer_idzorek(mu_cov):
    # given
    _, cov = mu_cov
    views = [
        {"symbol": "AAPL", "value": 0.30, "confidence": 0.7},
        {"symbol": "XOM", "value": 0.02, "confidence": 0.4},
    ]
    prior = black_litterman.market_implied_prior_returns(
        pd.Series(1.0, index=cov.index), 2.5, cov, risk_free_rate=0.02
    )
    peer = BlackLittermanModel(
        cov,
        pi=prior,
        absolute_views={"AAPL": 0.30, "XOM": 0.02},
        omega="idzorek",
        view_confidences=[0.7, 0.4],
    )
    peer_returns = peer.bl_returns()
    # when
    ours = optimize(
        objective="black_litterman",
        expected_returns=None,
        cov=cov,
        views=views,
        risk_aversion=2.5,
        risk_free_rate=0.02,
    )
    # then
    np.testing.assert_allclose(
        pd.Series(ours.details["posterior_returns"]), peer_returns, atol=1e-10
    )
    assert ours.weights.sum() == pytest.approx(1.0, abs=1e-9)


def test_black_litterman_relative_view_tilts_weights(mu_cov):
    mu, cov = mu_cov
    base = optimize(objective="black_litterman", expected_returns=mu, cov=cov, views=[])
    tilted = optimize(
        objective="black_litterman",
        expected_returns=mu,
        cov=cov,
        views=[{"long": "JPM", "short": "BAC", "value": 0.10, "confidence": 0.9}],
    )
    assert (
        tilted.weights["JPM"] - tilted.weights["BAC"]
        > base.weights["JPM"] - base.weights["BAC"] + 0.01
    )
    with pytest.raises(OptimizationError, match="not in the universe"):
        optimize(
            objective="black_litterman",
            expected_returns=mu,
            cov=cov,
            views=[{"symbol": "ZZZ", "value": 0.1}],
        )


def test_kelly_fraction_scales_the_unconstrained_growth_portfolio():
    # given: two uncorrelated assets whose full-Kelly weights (Sigma^-1 (mu - rf)) sum below 1
    mu = pd.Series({"a": 0.06, "b": 0.05})
    cov = pd.DataFrame([[0.16, 0.0], [0.0, 0.25]], index=["a", "b"], columns=["a", "b"])
    # when
    full = optimize(
        objective="kelly", expected_returns=mu, cov=cov, risk_free_rate=0.02, kelly_fraction=1.0
    )
    half = optimize(objective="kelly", expected_returns=mu, cov=cov, risk_free_rate=0.02)
    # then: w = f * Sigma^-1 (mu - rf) = f * (0.25, 0.12), the rest in cash
    np.testing.assert_allclose(full.weights, [0.25, 0.12], atol=1e-7)
    np.testing.assert_allclose(half.weights, [0.125, 0.06], atol=1e-7)
    assert half.details["cash_weight"] == pytest.approx(0.815, abs=1e-7)
    assert half.expected_return == pytest.approx(
        0.125 * 0.06 + 0.06 * 0.05 + 0.815 * 0.02, abs=1e-8
    )


def test_multi_objective_defaults_equal_max_utility_and_turnover_weight_anchors(
    mu_cov, stock_returns
):
    mu, cov = mu_cov
    utility = optimize(objective="max_utility", expected_returns=mu, cov=cov)
    multi = optimize(objective="multi_objective", expected_returns=mu, cov=cov)
    np.testing.assert_allclose(multi.weights, utility.weights, atol=1e-6)
    current = dict.fromkeys(mu.index, 0.05)
    anchored = optimize(
        objective="multi_objective",
        expected_returns=mu,
        cov=cov,
        current_weights=current,
        turnover_weight=5.0,
        cvar_weight=1.0,
        drawdown_weight=1.0,
        returns=stock_returns.iloc[-500:],
    )
    turnover = (anchored.weights - 0.05).abs().sum()
    assert turnover < (utility.weights - 0.05).abs().sum() - 0.1
    assert anchored.details["objective_weights"]["variance_weight"] == 1.25


def test_max_sharpe_below_risk_free_rate_is_a_named_conflict(mu_cov):
    mu, cov = mu_cov
    with pytest.raises(InfeasibleConstraints, match=r"above the risk-free rate 0\.9"):
        optimize(objective="max_sharpe", expected_returns=mu, cov=cov, risk_free_rate=0.9)


def test_unknown_objective_and_missing_inputs_name_the_field(mu_cov):
    mu, cov = mu_cov
    with pytest.raises(OptimizationError) as info:
        optimize(objective="moonshot", expected_returns=mu, cov=cov)
    assert info.value.field == "objective"
    with pytest.raises(OptimizationError) as info:
        optimize(objective="max_sharpe", expected_returns=None, cov=cov)
    assert info.value.field == "expected_returns"
    with pytest.raises(OptimizationError) as info:
        optimize(objective="efficient_return", expected_returns=mu, cov=cov)
    assert info.value.field == "target_return"


def test_max_sharpe_on_500_assets_is_optimal(make_factor_universe):
    # given
    mu, cov = make_factor_universe(500, seed=1)
    # when
    result = optimize(objective="max_sharpe", expected_returns=mu, cov=cov, risk_free_rate=0.02)
    # then: solved exactly on the parametric path (the fast one; bench/bench_max_sharpe.py times
    # it, a shared machine makes a time limit flaky), not by the cvxpy fallback
    assert result.solver == "parametric_qp"
    # and the first-order condition of the tangency portfolio holds on its support
    w = result.weights.to_numpy()
    held = w > 1e-6
    gradient = (mu.to_numpy() - 0.02) - result.sharpe_ratio / result.volatility * (
        cov.to_numpy() @ w
    )
    assert np.ptp(gradient[held]) < 1e-5
    assert (gradient[~held] <= gradient[held].mean() + 1e-5).all()
