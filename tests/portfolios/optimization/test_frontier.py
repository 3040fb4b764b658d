"""The parametric active-set frontier: exact against a tight Clarabel reference, feasible, fast."""

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest

from portfolios.optimization import (
    Constraints,
    InfeasibleConstraints,
    OptimizationError,
    compile_constraints,
    efficient_frontier,
    frontier_png,
    optimize,
)


def _reference_volatility(mu, cov, target, constraints_builder=None):
    w = cp.Variable(len(mu))
    cons = [cp.sum(w) == 1, w >= 0, mu.to_numpy() @ w >= target]
    if constraints_builder:
        cons += constraints_builder(w)
    cp.Problem(cp.Minimize(cp.quad_form(w, cp.psd_wrap(cov.to_numpy()))), cons).solve(
        solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12
    )
    return float(np.sqrt(w.value @ cov.to_numpy() @ w.value))


def test_points_match_tight_clarabel_reference_to_1e6(mu_cov):
    # given
    mu, cov = mu_cov
    # when
    frontier = efficient_frontier(expected_returns=mu, cov=cov, points=25)
    # then
    for i in range(0, 25, 4):
        reference = _reference_volatility(mu, cov, frontier.expected_returns[i] - 1e-12)
        assert abs(frontier.volatilities[i] - reference) < 1e-6


def test_endpoints_are_min_volatility_and_max_return(mu_cov):
    mu, cov = mu_cov
    frontier = efficient_frontier(expected_returns=mu, cov=cov, points=10)
    low = optimize(objective="min_volatility", expected_returns=mu, cov=cov)
    assert frontier.volatilities[0] == pytest.approx(low.volatility, abs=1e-8)
    assert frontier.expected_returns[-1] == pytest.approx(mu.max(), abs=1e-10)


def test_group_limits_and_exclusions_hold_at_every_point(mu_cov):
    # given
    mu, cov = mu_cov
    tech = ["AAPL", "GOOG", "FB", "AMZN", "MA"]
    constraints = Constraints(
        max_position=0.2,
        sectors=dict.fromkeys(tech, "tech"),
        sector_max={"tech": 0.35},
        excluded=["AMD", "SHLD"],
    )
    # when
    frontier = efficient_frontier(
        expected_returns=mu, cov=cov, points=60, constraints=constraints, risk_free_rate=0.02
    )
    # then
    w = frontier.weights
    assert frontier.method == "parametric_qp"
    assert w.max().max() <= 0.2 + 1e-9
    assert w[tech].sum(axis=1).max() <= 0.35 + 1e-9
    assert w[["AMD", "SHLD"]].abs().max().max() == 0
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-10)
    best = optimize(
        objective="max_sharpe",
        expected_returns=mu,
        cov=cov,
        risk_free_rate=0.02,
        constraints=constraints,
    )
    assert frontier.max_sharpe.sharpe_ratio == pytest.approx(best.sharpe_ratio, abs=1e-8)
    idx = list(mu.index)
    ref = _reference_volatility(
        mu,
        cov,
        frontier.expected_returns[30] - 1e-12,
        lambda v: [
            v <= 0.2,
            sum(v[idx.index(s)] for s in tech) <= 0.35,
            v[idx.index("AMD")] == 0,
            v[idx.index("SHLD")] == 0,
        ],
    )
    assert abs(frontier.volatilities[30] - ref) < 1e-6


def test_factor_universe_of_200_assets_is_exact_and_feasible(make_factor_universe):
    # given
    mu, cov = make_factor_universe(200, seed=3)
    # when
    frontier = efficient_frontier(expected_returns=mu, cov=cov, points=100, risk_free_rate=0.02)
    # then
    assert frontier.method == "parametric_qp"
    assert frontier.weights.min().min() >= 0
    assert np.all(np.diff(frontier.volatilities) > -1e-12)
    ref = _reference_volatility(mu, cov, frontier.expected_returns[50] - 1e-12)
    assert abs(frontier.volatilities[50] - ref) < 1e-6


def test_turnover_cap_uses_the_exact_path_and_holds(mu_cov):
    mu, cov = mu_cov
    current = dict.fromkeys(mu.index, 1 / len(mu))
    frontier = efficient_frontier(
        expected_returns=mu,
        cov=cov,
        points=8,
        constraints=Constraints(max_turnover=0.5),
        current_weights=current,
    )
    assert frontier.method == "parametric_qp"
    turnover = (frontier.weights - np.array(list(current.values()))).abs().sum(axis=1)
    assert turnover.max() <= 0.5 + 1e-6
    assert np.all(np.diff(frontier.expected_returns) > 0)


def test_points_out_of_range_and_infeasible_constraints_are_refused(mu_cov):
    mu, cov = mu_cov
    with pytest.raises(OptimizationError, match="between 2 and 500"):
        efficient_frontier(expected_returns=mu, cov=cov, points=501)
    with pytest.raises(InfeasibleConstraints) as info:
        efficient_frontier(expected_returns=mu, cov=cov, constraints=Constraints(max_position=0.03))
    assert info.value.conflicts == [
        "max_position 0.03 across 20 eligible assets allows at most 0.6, less than the 1 to invest"
    ]


def test_frontier_png_is_a_png(mu_cov):
    mu, cov = mu_cov
    png = frontier_png(efficient_frontier(expected_returns=mu, cov=cov, points=20))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 5000


@pytest.mark.parametrize("seed", range(8))
def test_random_problems_with_shorts_ties_groups_and_cash_match_the_reference(seed):
    # given: a random covariance, returns with ties at the top, one of four constraint shapes
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 25))
    loadings = rng.normal(size=(n, n + 5))
    cov = loadings @ loadings.T / (n + 5) * 0.04 + np.diag(rng.uniform(0.001, 0.02, n))
    mu = rng.normal(0.08, 0.05, n)
    mu[:2] = mu.max()
    symbols = [f"S{i}" for i in range(n)]
    shapes = [
        {},
        {"long_only": False, "bounds": dict.fromkeys(symbols, (-0.3, 0.6))},
        {"max_position": max(0.25, 1.5 / n), "cash_buffer": 0.05},
        {
            "sectors": {s: f"g{i % 3}" for i, s in enumerate(symbols)},
            "sector_max": {"g0": 0.5},
            "sector_min": {"g1": 0.2},
            "max_position": max(0.3, 1.5 / n),
            "excluded": [symbols[-1]],
        },
    ]
    constraints = Constraints(**shapes[seed % 4])
    mu_s, cov_df = pd.Series(mu, index=symbols), pd.DataFrame(cov, index=symbols, columns=symbols)
    # when
    frontier = efficient_frontier(
        expected_returns=mu_s, cov=cov_df, constraints=constraints, points=12
    )
    # then
    form = compile_constraints(constraints, symbols)
    for i in (0, 5, 11):
        w = cp.Variable(n)
        cons = [
            w >= form.lower,
            w <= form.upper,
            cp.sum(w) == form.budget,
            mu @ w >= frontier.expected_returns[i] - 1e-12,
        ]
        if len(form.h):
            cons.append(form.G @ w <= form.h)
        cp.Problem(cp.Minimize(cp.quad_form(w, cp.psd_wrap(cov))), cons).solve(
            solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12
        )
        assert abs(np.sqrt(w.value @ cov @ w.value) - frontier.volatilities[i]) < 1e-6
