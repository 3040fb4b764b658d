"""Issue 4, item 6: agreement with PyPortfolioOpt on stock_prices.csv to 1e-4 (rf 0.02, long-only)."""

import numpy as np
import pytest
from pypfopt import EfficientFrontier

from portfolios.optimization import Constraints, efficient_frontier, optimize

CASES = [
    ("max_sharpe", {}, lambda ef: ef.max_sharpe(risk_free_rate=0.02)),
    ("min_volatility", {}, lambda ef: ef.min_volatility()),
    ("efficient_return", {"target_return": 0.25}, lambda ef: ef.efficient_return(0.25)),
    ("efficient_risk", {"target_volatility": 0.19}, lambda ef: ef.efficient_risk(0.19)),
]


@pytest.mark.parametrize(("objective", "kwargs", "peer_call"), CASES, ids=[c[0] for c in CASES])
def test_objective_agrees_with_pypfopt(mu_cov, objective, kwargs, peer_call):
    # given
    mu, cov = mu_cov
    peer = EfficientFrontier(mu, cov)
    peer_call(peer)
    peer_return, peer_vol, peer_sharpe = peer.portfolio_performance(risk_free_rate=0.02)
    # when
    ours = optimize(
        objective=objective, expected_returns=mu, cov=cov, risk_free_rate=0.02, **kwargs
    )
    # then
    np.testing.assert_allclose(
        [ours.expected_return, ours.volatility, ours.sharpe_ratio],
        [peer_return, peer_vol, peer_sharpe],
        atol=1e-4,
    )
    assert ours.weights.min() >= 0
    assert ours.weights.sum() == pytest.approx(1.0, abs=1e-9)


def test_frontier_is_monotone_and_its_tangency_is_max_sharpe(mu_cov):
    # given
    mu, cov = mu_cov
    # when
    frontier = efficient_frontier(expected_returns=mu, cov=cov, points=100, risk_free_rate=0.02)
    best = optimize(objective="max_sharpe", expected_returns=mu, cov=cov, risk_free_rate=0.02)
    # then
    assert frontier.method == "parametric_qp"
    assert len(frontier.points) == 100
    assert np.all(np.diff(frontier.expected_returns) > 0)
    assert np.all(np.diff(frontier.volatilities) > -1e-12)
    assert frontier.max_sharpe.sharpe_ratio == pytest.approx(best.sharpe_ratio, abs=1e-8)
    np.testing.assert_allclose(frontier.max_sharpe.weights, best.weights, atol=1e-6)
    assert frontier.sharpe_ratios.max() <= frontier.max_sharpe.sharpe_ratio + 1e-12


def test_max_sharpe_path_and_conic_formulation_agree(mu_cov, make_factor_universe):
    # given: a non-binding turnover cap sends max Sharpe to the cvxpy (Cornuejols-Tutuncu) form
    for mu, cov in (mu_cov, make_factor_universe(150, seed=5)):
        # when
        exact = optimize(objective="max_sharpe", expected_returns=mu, cov=cov, risk_free_rate=0.02)
        conic = optimize(
            objective="max_sharpe",
            expected_returns=mu,
            cov=cov,
            risk_free_rate=0.02,
            constraints=Constraints(max_turnover=2.0),
        )
        # then
        assert exact.solver == "parametric_qp"
        assert conic.solver == "CLARABEL"
        assert exact.sharpe_ratio == pytest.approx(conic.sharpe_ratio, abs=1e-8)
        np.testing.assert_allclose(exact.weights, conic.weights, atol=1e-5)
