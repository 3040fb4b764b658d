"""The cardinality-limited frontier (support search): at most K names at every point, and the
exact optimum where an exhaustive enumeration or SCIP can tell."""

import itertools

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest

from portfolios.optimization import (
    Constraints,
    InfeasibleConstraints,
    compile_constraints,
    efficient_frontier,
)
from portfolios.optimization.cardinality import CardinalityFrontier


def _exhaustive(mu, cov, constraints, current, targets, sizes):
    """The lowest volatility at each target over every support of the given sizes."""
    form = compile_constraints(constraints, list(mu.index), current_weights=current)
    search = CardinalityFrontier(
        cov.to_numpy(),
        mu.to_numpy(),
        form,
        current,
        max_holdings=constraints.max_holdings,
        min_position=constraints.min_position,
        cost=constraints.transaction_cost,
        max_turnover=constraints.max_turnover,
    )
    best = np.full(len(targets), np.inf)
    for size in sizes:
        for names in itertools.combinations(range(len(mu)), size):
            support = search.evaluate(frozenset(names))
            if support is not None:
                best = np.minimum(best, search.volatilities(support, np.asarray(targets)))
    return best


def _scip_volatility(mu, cov, k, target):
    """The MIQP by SCIP: ``min w'Sigma w`` s.t. ``mu'w >= target``, at most ``k`` names."""
    n = len(mu)
    w = cp.Variable(n)
    held = cp.Variable(n, boolean=True)
    cons = [cp.sum(w) == 1, w >= 0, w <= held, cp.sum(held) <= k, mu @ w >= target]
    problem = cp.Problem(cp.Minimize(cp.quad_form(w, cp.psd_wrap(cov))), cons)
    problem.solve(solver="SCIP", scip_params={"limits/gap": 1e-9, "numerics/feastol": 1e-9})
    return float(np.sqrt(w.value @ cov @ w.value))


def test_100_points_on_20_stocks_hold_at_most_k_names_and_match_exhaustive_search(mu_cov):
    # given: the 20 stocks, at most 5 names, 100 points (the old cvxpy path stopped at 50)
    mu, cov = mu_cov
    constraints = Constraints(max_holdings=5)
    # when
    frontier = efficient_frontier(expected_returns=mu, cov=cov, constraints=constraints, points=100)
    # then
    assert frontier.method == "support_search"
    assert len(frontier.points) == 100
    held = (frontier.weights.to_numpy() > 1e-7).sum(axis=1)
    assert held.max() <= 5
    assert np.all(np.diff(frontier.volatilities) > -1e-12)
    assert frontier.gap_bounds.min() >= -1e-12
    # every point is the best of all C(20, 5) = 15,504 supports (checked on a quarter of them:
    # the full enumeration takes ~15 s; the benchmark runs it on all)
    rng = np.random.default_rng(0)
    subset = [c for c in itertools.combinations(range(20), 5) if rng.random() < 0.25]
    form = compile_constraints(constraints, list(mu.index))
    search = CardinalityFrontier(cov.to_numpy(), mu.to_numpy(), form, np.zeros(20), max_holdings=5)
    best = np.full(100, np.inf)
    for names in subset:
        support = search.evaluate(frozenset(names))
        if support is not None:
            best = np.minimum(best, search.volatilities(support, frontier.expected_returns))
    assert (frontier.volatilities <= best + 1e-9).all()


def test_points_agree_with_scip_on_the_mixed_integer_problem(mu_cov):
    # given
    mu, cov = mu_cov
    frontier = efficient_frontier(
        expected_returns=mu, cov=cov, constraints=Constraints(max_holdings=4), points=30
    )
    # then: at sampled targets, SCIP's MIQP optimum is the support search's volatility
    for i in (3, 15, 27):
        target = frontier.expected_returns[i] - 1e-9
        reference = _scip_volatility(mu.to_numpy(), cov.to_numpy(), 4, target)
        assert frontier.volatilities[i] == pytest.approx(reference, abs=1e-6)


@pytest.mark.parametrize(
    ("seed", "options"),
    [
        (0, {}),
        (1, {"max_position": 0.45}),
        (2, {"transaction_cost": 0.005}),
        (3, {"transaction_cost": 0.002, "max_turnover": 1.3}),
        (4, {"min_position": 0.1}),
        (5, {"min_position": 0.08, "transaction_cost": 0.003}),
    ],
)
def test_small_universes_match_exhaustive_enumeration(seed, options):
    # given: 11 random assets, at most 3 names, current holdings when trading costs count
    rng = np.random.default_rng(seed)
    n, k = 11, 3
    loadings = rng.normal(size=(n, n + 5))
    cov = loadings @ loadings.T / (n + 5) * 0.04 + np.diag(rng.uniform(0.001, 0.02, n))
    symbols = [f"S{i}" for i in range(n)]
    mu = pd.Series(rng.normal(0.08, 0.05, n), index=symbols)
    cov = pd.DataFrame(cov, index=symbols, columns=symbols)
    current = rng.dirichlet(np.ones(n)) if "transaction_cost" in options else np.zeros(n)
    constraints = Constraints(max_holdings=k, **options)
    # when
    frontier = efficient_frontier(
        expected_returns=mu,
        cov=cov,
        constraints=constraints,
        current_weights=dict(zip(symbols, current, strict=True)),
        points=40,
    )
    # then: at most k names, min_position respected, and each point the best of all supports
    w = frontier.weights.to_numpy()
    held = w > 1e-7
    assert held.sum(axis=1).max() <= k
    if constraints.min_position:
        assert w[held].min() >= constraints.min_position - 1e-9
    if constraints.max_turnover:
        assert np.abs(w - current).sum(axis=1).max() <= constraints.max_turnover + 1e-9
    sizes = range(1, k + 1) if constraints.min_position else [k]
    best = _exhaustive(mu, cov, constraints, current, frontier.expected_returns, sizes)
    np.testing.assert_allclose(frontier.volatilities, best, atol=1e-9)


def test_targets_beyond_every_support_end_the_frontier(mu_cov):
    # given: targets up to the best single stock's return, under a 30 % position cap
    mu, cov = mu_cov
    targets = np.linspace(0.1, float(mu.max()), 15)
    # when
    frontier = efficient_frontier(
        expected_returns=mu,
        cov=cov,
        constraints=Constraints(max_holdings=4, max_position=0.3),
        target_returns=targets,
    )
    # then: the best reachable is 0.3 in each of the three best stocks and 0.1 in the fourth
    best = np.sort(mu.to_numpy())[::-1]
    reach = 0.3 * best[:3].sum() + 0.1 * best[3]
    assert frontier.unreachable_targets == int((targets > reach).sum()) > 0
    assert frontier.expected_returns[-1] == pytest.approx(reach, abs=1e-10)


def test_too_many_required_names_is_a_conflict(mu_cov):
    mu, cov = mu_cov
    bounds = {s: (0.05, 1.0) for s in list(mu.index)[:4]}
    with pytest.raises(InfeasibleConstraints, match="more than max_holdings 3"):
        efficient_frontier(
            expected_returns=mu, cov=cov, constraints=Constraints(max_holdings=3, bounds=bounds)
        )


def test_a_limit_the_relaxed_frontier_never_reaches_leaves_it_exact(mu_cov):
    # given: the 20 stocks' frontier never holds more than 12 names
    mu, cov = mu_cov
    free = efficient_frontier(expected_returns=mu, cov=cov, points=50)
    assert (free.weights.to_numpy() > 1e-9).sum(axis=1).max() <= 12
    # when
    limited = efficient_frontier(
        expected_returns=mu, cov=cov, constraints=Constraints(max_holdings=12), points=50
    )
    # then: the same frontier, known exact
    assert limited.method == "parametric_qp"
    np.testing.assert_allclose(limited.volatilities, free.volatilities, atol=1e-12)
    np.testing.assert_allclose(limited.gap_bounds, 0.0, atol=1e-15)
