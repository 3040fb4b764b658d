"""Transaction costs (``Constraints.transaction_cost``) reach every objective that accepts them.

The first two tests are PyPortfolioOpt 1.6's ``test_min_volatility_tx_costs``
(tests/test_efficient_frontier.py) and ``test_min_cvar_tx_costs`` (tests/test_efficient_cvar.py)
on our API, with their data and assertions: prices of ``stock_prices.csv``, equal-weight
previous portfolio, ``k = 0.001`` (their default). The next ones pin our weights to theirs.
"""

import numpy as np
import pandas as pd
import pytest
from pypfopt import EfficientCVaR, EfficientFrontier, objective_functions

from portfolios.optimization import (
    Constraints,
    UnsupportedOptions,
    mean_historical_return,
    optimize,
    returns_from_prices,
    sample_cov,
)

K = 0.001  # PyPortfolioOpt's default k of objective_functions.transaction_cost


def _equal(symbols) -> dict[str, float]:
    return dict.fromkeys(symbols, 1 / len(symbols))


def _turnover(weights: pd.Series, previous: dict[str, float]) -> float:
    return float((weights - pd.Series(previous)[weights.index]).abs().sum())


@pytest.fixture(scope="module")
def cvar_inputs(stock_prices):
    """PyPortfolioOpt's ``setup_efficient_cvar``: complete rows of prices, then their returns."""
    returns = returns_from_prices(stock_prices.dropna(how="any"))
    return mean_historical_return(returns), sample_cov(returns), returns


def test_min_volatility_tx_costs(mu_cov):
    # given: the baseline, and the same problem pretending we were initially equal weight
    mu, cov = mu_cov
    prev_w = _equal(mu.index)
    w1 = optimize(objective="min_volatility", expected_returns=mu, cov=cov).weights
    # when
    w2 = optimize(
        objective="min_volatility",
        expected_returns=mu,
        cov=cov,
        constraints=Constraints(transaction_cost=K),
        current_weights=prev_w,
    ).weights
    # then: the cost pulls the portfolio closer to the previous one
    assert _turnover(w2, prev_w) < _turnover(w1, prev_w)


def test_min_cvar_tx_costs(cvar_inputs):
    # given
    mu, cov, returns = cvar_inputs
    prev_w = _equal(mu.index)
    w1 = optimize(objective="min_cvar", expected_returns=mu, cov=cov, returns=returns).weights
    # when
    w2 = optimize(
        objective="min_cvar",
        expected_returns=mu,
        cov=cov,
        returns=returns,
        constraints=Constraints(transaction_cost=K),
        current_weights=prev_w,
    ).weights
    # then
    assert _turnover(w2, prev_w) < _turnover(w1, prev_w)


@pytest.mark.parametrize("k", [0.001, 0.01])
def test_min_volatility_with_costs_is_pypfopts_objective(mu_cov, k):
    # given: PyPortfolioOpt minimising w'Sigma w + k ||w - w_prev||_1
    mu, cov = mu_cov
    prev_w = _equal(mu.index)
    peer = EfficientFrontier(mu, cov)
    peer.add_objective(
        objective_functions.transaction_cost, w_prev=np.array(list(prev_w.values())), k=k
    )
    peer.min_volatility()
    # when
    ours = optimize(
        objective="min_volatility",
        expected_returns=mu,
        cov=cov,
        constraints=Constraints(transaction_cost=k),
        current_weights=prev_w,
    )
    # then
    np.testing.assert_allclose(ours.weights.to_numpy(), peer.weights, atol=1e-6)


@pytest.mark.parametrize("k", [0.001, 0.01])
def test_min_cvar_with_costs_is_pypfopts_objective(cvar_inputs, k):
    # given: PyPortfolioOpt minimising CVaR_0.95 + k ||w - w_prev||_1
    mu, cov, returns = cvar_inputs
    prev_w = _equal(mu.index)
    peer = EfficientCVaR(mu, returns, beta=0.95)
    peer.add_objective(
        objective_functions.transaction_cost, w_prev=np.array(list(prev_w.values())), k=k
    )
    peer.min_cvar()
    # when
    ours = optimize(
        objective="min_cvar",
        expected_returns=mu,
        cov=cov,
        returns=returns,
        constraints=Constraints(transaction_cost=k),
        current_weights=prev_w,
    )
    # then
    np.testing.assert_allclose(ours.weights.to_numpy(), peer.weights, atol=1e-6)


def test_efficient_return_with_a_slack_target_is_min_volatility_under_costs(mu_cov):
    # given: a target below the min-volatility portfolio's return, and costs
    mu, cov = mu_cov
    prev_w = _equal(mu.index)
    costs = Constraints(transaction_cost=0.01)
    least_risk = optimize(
        objective="min_volatility",
        expected_returns=mu,
        cov=cov,
        constraints=costs,
        current_weights=prev_w,
    )
    # when
    slack = optimize(
        objective="efficient_return",
        expected_returns=mu,
        cov=cov,
        target_return=0.05,
        constraints=costs,
        current_weights=prev_w,
    )
    binding = optimize(
        objective="efficient_return",
        expected_returns=mu,
        cov=cov,
        target_return=0.30,
        constraints=costs,
        current_weights=prev_w,
    )
    # then: costs are not ignored when the target is slack, and a target is met net of costs
    np.testing.assert_allclose(slack.weights, least_risk.weights, atol=1e-6)
    free = optimize(objective="min_volatility", expected_returns=mu, cov=cov)
    assert _turnover(slack.weights, prev_w) < _turnover(free.weights, prev_w) - 0.1
    net = float(mu @ binding.weights) - 0.01 * _turnover(binding.weights, prev_w)
    assert net == pytest.approx(0.30, abs=1e-6)


@pytest.mark.parametrize("objective", ["risk_parity", "hrp"])
def test_heuristics_refuse_transaction_costs_instead_of_ignoring_them(mu_cov, objective):
    # given
    mu, cov = mu_cov
    # when / then
    with pytest.raises(
        UnsupportedOptions, match=f"transaction_cost is not supported by {objective}"
    ) as info:
        optimize(
            objective=objective,
            expected_returns=mu,
            cov=cov,
            constraints=Constraints(transaction_cost=0.001),
            current_weights=_equal(mu.index),
        )
    assert info.value.field == "constraints.transaction_cost"
