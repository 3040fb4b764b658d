"""Every constraint type holds in the solution; infeasible combinations name their conflicts."""

import pytest

from portfolios.optimization import Constraints, InfeasibleConstraints, UnsupportedOptions, optimize

TECH = ["AAPL", "GOOG", "FB", "AMZN", "MA"]


def _run(mu_cov, constraints, objective="max_sharpe", **kwargs):
    mu, cov = mu_cov
    return optimize(
        objective=objective,
        expected_returns=mu,
        cov=cov,
        risk_free_rate=0.02,
        constraints=constraints,
        **kwargs,
    )


def test_per_asset_bounds_and_shorting(mu_cov):
    result = _run(
        mu_cov, Constraints(long_only=False, bounds={"AAPL": (0.05, 0.1), "GE": (-0.2, 0.0)})
    )
    assert 0.05 - 1e-9 <= result.weights["AAPL"] <= 0.1 + 1e-9
    assert -0.2 - 1e-9 <= result.weights["GE"] <= 1e-9
    assert result.weights.min() < -1e-3  # shorting is used
    assert result.weights.sum() == pytest.approx(1.0, abs=1e-9)


def test_max_position_is_the_concentration_limit(mu_cov):
    result = _run(mu_cov, Constraints(max_position=0.1))
    assert result.weights.max() <= 0.1 + 1e-9
    assert (result.weights > 0.1 - 1e-6).sum() >= 3


def test_asset_class_and_sector_limits(mu_cov):
    mu, _ = mu_cov
    classes = {s: ("bond_proxy" if s in ("PFE", "T", "XOM", "WMT") else "equity") for s in mu.index}
    result = _run(
        mu_cov,
        Constraints(
            asset_classes=classes,
            asset_class_min={"bond_proxy": 0.4},
            sectors=dict.fromkeys(TECH, "tech"),
            sector_max={"tech": 0.25},
        ),
    )
    assert result.weights[["PFE", "T", "XOM", "WMT"]].sum() >= 0.4 - 1e-9
    assert result.weights[TECH].sum() <= 0.25 + 1e-9


def test_esg_exclusions_get_zero_weight(mu_cov):
    unconstrained = _run(mu_cov, None)
    held = unconstrained.weights[unconstrained.weights > 0.05].index[:2].tolist()
    result = _run(mu_cov, Constraints(excluded=held))
    assert (result.weights[held] == 0).all()


def test_max_holdings_cardinality_with_scip(mu_cov):
    # given: the unconstrained max-Sharpe portfolio holds more than four names
    assert (_run(mu_cov, None).weights > 1e-6).sum() > 4
    # when
    result = _run(mu_cov, Constraints(max_holdings=4))
    # then
    assert (result.weights > 0).sum() <= 4
    assert result.solver == "SCIP"
    assert result.details["method"] == "dinkelbach"
    assert result.weights.sum() == pytest.approx(1.0, abs=1e-7)


def test_cardinality_max_sharpe_is_the_best_four_asset_subset_on_a_small_case(mu_cov):
    # given: 7 assets, at most 2 held -> brute force over the 21 pairs
    import itertools

    mu, cov = mu_cov
    names = ["AAPL", "AMZN", "MA", "PFE", "WMT", "XOM", "JPM"]
    small = (mu[names], cov.loc[names, names])
    best = max(
        optimize(
            objective="max_sharpe",
            expected_returns=small[0][list(p)],
            cov=small[1].loc[list(p), list(p)],
            risk_free_rate=0.02,
        ).sharpe_ratio
        for p in itertools.combinations(names, 2)
    )
    # when
    result = _run(small, Constraints(max_holdings=2))
    # then
    assert result.sharpe_ratio == pytest.approx(best, abs=1e-6)


def test_min_position_when_held(mu_cov):
    result = _run(mu_cov, Constraints(min_position=0.08), objective="min_volatility")
    held = result.weights[result.weights > 0]
    assert held.min() >= 0.08 - 1e-7
    unconstrained = _run(mu_cov, None, objective="min_volatility").weights
    assert unconstrained[unconstrained > 1e-6].min() < 0.08


def test_turnover_cap_relative_to_current_weights(mu_cov):
    mu, _ = mu_cov
    current = dict.fromkeys(mu.index, 0.05)
    result = _run(mu_cov, Constraints(max_turnover=0.3), current_weights=current)
    assert (result.weights - 0.05).abs().sum() <= 0.3 + 1e-7


def test_cash_buffer_leaves_cash_and_counts_it_at_the_risk_free_rate(mu_cov):
    mu, _ = mu_cov
    result = _run(mu_cov, Constraints(cash_buffer=0.1))
    assert result.weights.sum() == pytest.approx(0.9, abs=1e-9)
    w = result.weights
    assert result.expected_return == pytest.approx(float(mu @ w) + (1 - w.sum()) * 0.02, abs=1e-12)


def test_transaction_costs_reduce_trading(mu_cov):
    mu, _ = mu_cov
    current = dict.fromkeys(mu.index, 0.05)
    free = _run(mu_cov, None, objective="max_utility", current_weights=current)
    costly = _run(
        mu_cov, Constraints(transaction_cost=0.05), objective="max_utility", current_weights=current
    )
    assert (costly.weights - 0.05).abs().sum() < (free.weights - 0.05).abs().sum() - 0.05


@pytest.mark.parametrize(
    ("constraints", "expected"),
    [
        (
            Constraints(
                sectors={"AAPL": "tech", "XOM": "energy"}, sector_min={"tech": 0.7, "energy": 0.5}
            ),
            ["sector minimums sum to 1.2, more than the 1 to invest"],
        ),
        (
            Constraints(max_position=0.04),
            [
                "max_position 0.04 across 20 eligible assets allows at most 0.8, less than the 1 to invest"
            ],
        ),
        (
            Constraints(
                asset_classes={"AAPL": "bond"}, asset_class_min={"bond": 0.3}, max_position=0.2
            ),
            [
                "asset class 'bond' minimum 0.3 exceeds 0.2, the most its 1 assets may hold under their bounds, "
                "position limit and exclusions"
            ],
        ),
        (
            Constraints(
                sectors=dict.fromkeys(TECH, "tech"), sector_min={"tech": 0.3}, excluded=TECH
            ),
            [
                "sector 'tech' minimum 0.3 exceeds 0, the most its 5 assets may hold under their bounds, "
                "position limit and exclusions"
            ],
        ),
        (
            Constraints(max_holdings=3, max_position=0.3),
            ["max_holdings 3 with position limits allows at most 0.9, less than the 1 to invest"],
        ),
        (
            Constraints(min_position=0.3, max_position=0.2),
            ["min_position 0.3 is above max_position 0.2"],
        ),
        (
            Constraints(bounds={"AAPL": (0.6, 1.0), "MA": (0.5, 1.0)}),
            ["lower bounds sum to 1.1, more than the 1 to invest"],
        ),
        (
            Constraints(excluded=["AAPL"], bounds={"AAPL": (0.1, 0.5)}),
            ["AAPL is excluded (ESG) but its lower bound is 0.1"],
        ),
        (
            Constraints(max_turnover=0.2),
            [
                "turnover cap 0.2 is below 1, the turnover needed just to meet the budget, bounds and exclusions "
                "from the current weights"
            ],
        ),
    ],
)
def test_infeasible_combinations_name_their_conflicts(mu_cov, constraints, expected):
    with pytest.raises(InfeasibleConstraints) as info:
        _run(mu_cov, constraints, objective="min_volatility")
    assert info.value.conflicts == expected


def test_conflict_found_by_the_solver_is_named_by_relaxation(mu_cov):
    # given: sector max and class min that each look fine alone but cannot hold together
    _mu, _ = mu_cov
    constraints = Constraints(
        sectors=dict.fromkeys(TECH, "tech"),
        sector_max={"tech": 0.2},
        asset_classes=dict.fromkeys(TECH, "growth"),
        asset_class_min={"growth": 0.5},
    )
    # when
    with pytest.raises(InfeasibleConstraints) as info:
        _run(mu_cov, constraints, objective="min_volatility")
    # then
    assert info.value.conflicts == [
        "the asset-class limits cannot be met together with the other constraints (dropping it makes them feasible)",
        "the sector limits cannot be met together with the other constraints (dropping it makes them feasible)",
    ]


def test_targets_out_of_reach_name_the_limit(mu_cov):
    with pytest.raises(
        InfeasibleConstraints,
        match=r"target_return 0.9 is above 0.388666, the highest expected return",
    ):
        _run(mu_cov, None, objective="efficient_return", target_return=0.9)
    with pytest.raises(
        InfeasibleConstraints,
        match=r"target_volatility 0.05 is below 0.159\d*, the lowest volatility",
    ):
        _run(mu_cov, None, objective="efficient_risk", target_volatility=0.05)


def test_risk_parity_refuses_limits_it_cannot_honour(mu_cov):
    with pytest.raises(InfeasibleConstraints, match="risk_parity weights break"):
        _run(mu_cov, Constraints(max_position=0.051), objective="risk_parity")
    with pytest.raises(UnsupportedOptions, match="cannot honour max_holdings"):
        _run(mu_cov, Constraints(max_holdings=5), objective="hrp")
