"""The rebalancing frontier (costs and a turnover cap from current weights): exact against a
tight Clarabel reference point by point, feasible, and ended -- not failed -- by the cap."""

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest

from portfolios.optimization import Constraints, compile_constraints, efficient_frontier, optimize
from portfolios.optimization.frontier import ParametricQP
from portfolios.optimization.rebalancing import RebalancingPath, RebalancingQP

COST = 0.002
CAP = 0.5


def _holdings(symbols, seed=7) -> pd.Series:
    """Realistic current weights: uneven, some names not held, a few above a 25 % cap."""
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.full(len(symbols), 0.6))
    w[rng.random(len(symbols)) < 0.25] = 0.0
    return pd.Series(w / w.sum(), index=symbols)


def _solve_tight(mu, cov, form, w0, cost, cap, *, target=None):
    """``min w'Sigma w`` s.t. net return >= target (or ``max`` net return when target is None)."""
    w = cp.Variable(len(mu))
    cons = [w >= form.lower, w <= form.upper, cp.sum(w) == form.budget]
    if len(form.h):
        cons.append(form.G @ w <= form.h)
    if cap is not None:
        cons.append(cp.norm1(w - w0) <= cap)
    net = mu @ w - cost * cp.norm1(w - w0)
    if target is None:
        problem = cp.Problem(cp.Maximize(net), cons)
    else:
        problem = cp.Problem(cp.Minimize(cp.quad_form(w, cp.psd_wrap(cov))), [*cons, net >= target])
    problem.solve(solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
    return np.asarray(w.value), float(problem.value)


@pytest.fixture(scope="module")
def rebalancing(mu_cov):
    mu, cov = mu_cov
    current = _holdings(mu.index)
    constraints = Constraints(max_position=0.25, transaction_cost=COST, max_turnover=CAP)
    frontier = efficient_frontier(
        expected_returns=mu,
        cov=cov,
        constraints=constraints,
        points=100,
        current_weights=current,
        risk_free_rate=0.02,
    )
    form = compile_constraints(constraints, list(mu.index), current_weights=current.to_numpy())
    return mu, cov, current, constraints, form, frontier


def test_every_point_matches_the_tight_reference(rebalancing):
    # given: a 100-point frontier from uneven holdings under a 0.2 % cost and a 50 % cap
    mu, cov, current, _, form, frontier = rebalancing
    w0 = current.to_numpy()
    # then: each sampled point is the tight solve of the same net-return target
    assert frontier.method == "parametric_qp"
    assert len(frontier.points) == 100
    for i in [*range(0, 99, 7), 98]:
        weights, _ = _solve_tight(
            mu.to_numpy(), cov.to_numpy(), form, w0, COST, CAP, target=frontier.expected_returns[i]
        )
        reference = float(np.sqrt(weights @ cov.to_numpy() @ weights))
        assert abs(frontier.volatilities[i] - reference) < 1e-6
        np.testing.assert_allclose(frontier.weights.iloc[i], weights, atol=1e-5)


def test_the_end_is_the_highest_net_return_the_cap_allows(rebalancing):
    mu, cov, current, _, form, frontier = rebalancing
    _, best_net = _solve_tight(mu.to_numpy(), cov.to_numpy(), form, current.to_numpy(), COST, CAP)
    assert frontier.expected_returns[-1] == pytest.approx(best_net, abs=1e-9)


def test_turnover_and_costs_hold_and_returns_are_net(rebalancing):
    # given
    mu, cov, current, _, _, frontier = rebalancing
    w = frontier.weights.to_numpy()
    # then: every point within the cap, its cost k * turnover, its return net of that cost
    turnover = np.abs(w - current.to_numpy()).sum(axis=1)
    assert turnover.max() <= CAP + 1e-9
    np.testing.assert_allclose(frontier.turnovers, turnover, atol=1e-12)
    np.testing.assert_allclose(frontier.transaction_costs, COST * turnover, atol=1e-12)
    np.testing.assert_allclose(
        frontier.expected_returns, w @ mu.to_numpy() - COST * turnover, atol=1e-12
    )
    # evenly spaced net returns, volatility rising along the frontier
    np.testing.assert_allclose(np.diff(frontier.expected_returns, 2), 0.0, atol=1e-10)
    assert np.all(np.diff(frontier.volatilities) > -1e-12)
    assert frontier.weights.max().max() <= 0.25 + 1e-12


def test_its_tangency_is_the_max_sharpe_portfolio_net_of_costs(rebalancing):
    # given: the homogenised max-Sharpe solve of the same problem (Cornuejols-Tutuncu, cvxpy)
    mu, cov, current, constraints, _, frontier = rebalancing
    best = optimize(
        objective="max_sharpe",
        expected_returns=mu,
        cov=cov,
        constraints=constraints,
        current_weights=current,
        risk_free_rate=0.02,
    )
    # then: the path's exact tangency is the same portfolio
    net = best.weights @ mu - COST * (best.weights - current).abs().sum()
    sharpe = (net - 0.02) / best.volatility
    assert frontier.max_sharpe.sharpe_ratio == pytest.approx(sharpe, abs=1e-6)
    assert frontier.sharpe_ratios.max() <= frontier.max_sharpe.sharpe_ratio + 1e-12
    np.testing.assert_allclose(frontier.max_sharpe.weights, best.weights, atol=1e-4)


def test_targets_beyond_the_cap_end_the_frontier_instead_of_failing(mu_cov):
    # given: targets spanning the frontier without a cap, asked of a 30 % cap
    mu, cov = mu_cov
    current = pd.Series(1 / len(mu), index=mu.index)
    free = efficient_frontier(expected_returns=mu, cov=cov, points=20)
    constraints = Constraints(max_turnover=0.3, transaction_cost=COST)
    # when
    frontier = efficient_frontier(
        expected_returns=mu,
        cov=cov,
        constraints=constraints,
        current_weights=current,
        target_returns=free.expected_returns,
    )
    # then: the reachable targets are points, the rest end the frontier at the capped maximum
    form = compile_constraints(constraints, list(mu.index), current_weights=current.to_numpy())
    _, best_net = _solve_tight(mu.to_numpy(), cov.to_numpy(), form, current.to_numpy(), COST, 0.3)
    beyond = int((free.expected_returns > best_net).sum())
    assert beyond > 0
    assert frontier.unreachable_targets == beyond
    assert len(frontier.points) == 20 - beyond + 1
    assert frontier.expected_returns[-1] == pytest.approx(best_net, abs=1e-9)
    reached = free.expected_returns[free.expected_returns <= best_net]
    np.testing.assert_allclose(
        frontier.expected_returns[:-1], np.maximum(reached, frontier.expected_returns[0]), atol=1e-9
    )


def test_the_cvxpy_reresolve_gives_the_same_frontier(mu_cov):
    # given: the same problem by the exact path and by one cvxpy solve per point
    mu, cov = mu_cov
    current = _holdings(mu.index, seed=3)
    kwargs = {
        "expected_returns": mu,
        "cov": cov,
        "constraints": Constraints(max_position=0.3, transaction_cost=0.005, max_turnover=0.8),
        "current_weights": current,
        "points": 12,
    }
    # when
    exact = efficient_frontier(**kwargs)
    by_cvxpy = efficient_frontier(**kwargs, method="cvxpy_parametric")
    # then (the cvxpy path places its last target 1e-9 inside the end; its min-volatility
    # point is flat in variance, so its return there is only as good as Clarabel's 1e-9)
    assert (exact.method, by_cvxpy.method) == ("parametric_qp", "cvxpy_parametric")
    np.testing.assert_allclose(
        exact.expected_returns[1:-1], by_cvxpy.expected_returns[1:-1], atol=1e-8
    )
    np.testing.assert_allclose(exact.volatilities[:-1], by_cvxpy.volatilities[:-1], atol=1e-6)


def test_without_costs_or_cap_the_path_is_the_linear_one(make_factor_universe):
    # given: a 60-asset universe with a position cap and no trading terms
    mu, cov = make_factor_universe(60, seed=5)
    form = compile_constraints(Constraints(max_position=0.08), list(mu.index))
    sigma, m = cov.to_numpy(), mu.to_numpy()
    # when
    ours = RebalancingPath.trace(RebalancingQP(sigma, m, form, np.zeros(60)))
    linear = ParametricQP(sigma, m, form).path()
    # then: the same corners, the same weights
    assert len(ours.segments) == len(linear)
    for a, b in zip(ours.segments, linear, strict=True):
        np.testing.assert_allclose(a.a + a.start * a.b, b.a + b.start * b.b, atol=1e-10)


@pytest.mark.parametrize("seed", range(10))
def test_random_problems_match_the_reference(seed):
    # given: random covariances, bounds shapes, holdings (uniform, sparse, one name), costs, caps
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 22))
    loadings = rng.normal(size=(n, n + 5))
    cov = loadings @ loadings.T / (n + 5) * 0.04 + np.diag(rng.uniform(0.001, 0.02, n))
    mu = rng.normal(0.08, 0.05, n)
    mu[:2] = mu.max() if seed % 3 == 0 else mu[:2]  # ties at the top
    symbols = [f"S{i}" for i in range(n)]
    shapes = [
        {},
        {"max_position": max(0.3, 1.5 / n), "cash_buffer": 0.05},
        {"long_only": False, "bounds": dict.fromkeys(symbols, (-0.3, 0.6))},
        {
            "sectors": {s: f"g{i % 3}" for i, s in enumerate(symbols)},
            "sector_max": {"g0": 0.5},
            "sector_min": {"g1": 0.2},
            "max_position": max(0.35, 1.5 / n),
            "excluded": [symbols[-1]],
        },
    ]
    w0 = [np.full(n, 1 / n), rng.dirichlet(np.ones(n)), np.eye(n)[0] * 0.5 + 0.5 / n][seed % 3]
    cost = [0.0, 0.001, 0.01][seed % 3]
    cap = [1.0, None, 1.2, 0.9, 1.5][seed % 5] if cost else 1.0
    constraints = Constraints(**shapes[seed % 4], transaction_cost=cost, max_turnover=cap)
    # when
    frontier = efficient_frontier(
        expected_returns=pd.Series(mu, index=symbols),
        cov=pd.DataFrame(cov, index=symbols, columns=symbols),
        constraints=constraints,
        current_weights=dict(zip(symbols, w0, strict=True)),
        points=9,
    )
    # then
    assert frontier.method == "parametric_qp"
    form = compile_constraints(constraints, symbols, current_weights=w0)
    for i in range(8):  # the end is checked against the LP maximum instead
        weights, _ = _solve_tight(mu, cov, form, w0, cost, cap, target=frontier.expected_returns[i])
        assert abs(np.sqrt(weights @ cov @ weights) - frontier.volatilities[i]) < 1e-6
    _, best_net = _solve_tight(mu, cov, form, w0, cost, cap)
    assert frontier.expected_returns[-1] == pytest.approx(best_net, abs=1e-8)


def test_a_degenerate_feasible_set_falls_back_to_cvxpy():
    # given: limits that leave exactly one portfolio, (0.5, 0.5, 0), with a sector minimum and
    # the cap binding on top (more active constraints than weights: a singular KKT system)
    symbols = ["A", "B", "C"]
    mu = pd.Series([0.05, 0.07, 0.09], index=symbols)
    cov = pd.DataFrame(np.diag([0.04, 0.05, 0.06]), index=symbols, columns=symbols)
    constraints = Constraints(
        max_position=0.5,
        excluded=["C"],
        sectors={"A": "g0", "B": "g1", "C": "g2"},
        sector_max={"g0": 0.5},
        sector_min={"g1": 0.2},
        max_turnover=1.0,
        transaction_cost=0.005,
    )
    # when
    frontier = efficient_frontier(
        expected_returns=mu,
        cov=cov,
        constraints=constraints,
        current_weights=dict.fromkeys(symbols, 1 / 3),
        points=3,
    )
    # then
    assert frontier.method == "cvxpy_parametric"
    np.testing.assert_allclose(frontier.weights.to_numpy(), [[0.5, 0.5, 0.0]] * 3, atol=1e-7)
