"""An option an objective would ignore is refused, naming it; one it reads still works."""

import pytest

from portfolios.optimization import (
    OBJECTIVES,
    STRATEGY_OBJECTIVES,
    Constraints,
    OptimizationError,
    UnsupportedOptions,
    optimize,
)
from portfolios.optimization.optimizer import OPTION_USERS

# A value that differs from each option's default
SET = {
    "target_return": 0.2,
    "target_volatility": 0.2,
    "risk_aversion": 3.0,
    "views": [{"symbol": "AAPL", "value": 0.2}],
    "kelly_fraction": 0.25,
    "cvar_beta": 0.9,
    "drawdown_horizon": 10,
    "risk_budgets": {"AAPL": 2.0},
    "market_weights": {"AAPL": 1.0},
    "tau": 0.1,
    "bl_objective": "max_utility",
    "return_weight": 2.0,
    "variance_weight": 2.0,
    "cvar_weight": 1.0,
    "drawdown_weight": 1.0,
    "turnover_weight": 1.0,
}
IGNORED = [
    (objective, option)
    for option, (users, _) in OPTION_USERS.items()
    for objective in OBJECTIVES
    if objective not in users
]


def test_every_option_has_a_test_value():
    assert set(SET) == set(OPTION_USERS)


@pytest.mark.parametrize(("objective", "option"), IGNORED, ids=[f"{o}-{p}" for o, p in IGNORED])
def test_an_option_the_objective_ignores_is_refused(mu_cov, objective, option):
    # given
    mu, cov = mu_cov
    # when / then
    with pytest.raises(
        UnsupportedOptions, match=f"^{option} is not used by {objective}; it"
    ) as info:
        optimize(objective=objective, expected_returns=mu, cov=cov, **{option: SET[option]})
    assert info.value.field == option


def test_options_at_their_defaults_pass_everywhere(mu_cov):
    # given: what the API sends on every request, whatever the objective
    mu, cov = mu_cov
    defaults = {"kelly_fraction": 0.5, "cvar_beta": 0.95, "views": [], "target_return": None}
    # when
    result = optimize(
        objective="max_sharpe", expected_returns=mu, cov=cov, risk_tier="growth", **defaults
    )
    plain = optimize(objective="max_sharpe", expected_returns=mu, cov=cov)
    # then
    assert result.weights.equals(plain.weights)


def test_an_option_the_objective_reads_changes_its_answer(mu_cov, stock_returns):
    # given
    mu, cov = mu_cov
    scenarios = stock_returns.iloc[-750:].dropna()
    # when
    default = optimize(objective="min_cvar", expected_returns=mu, cov=cov, returns=scenarios)
    tighter = optimize(
        objective="min_cvar", expected_returns=mu, cov=cov, returns=scenarios, cvar_beta=0.9
    )
    # then
    assert tighter.details["cvar_beta"] == 0.9
    assert (tighter.weights - default.weights).abs().max() > 1e-3


def test_an_unknown_option_is_refused(mu_cov):
    mu, cov = mu_cov
    with pytest.raises(OptimizationError, match="unknown option 'cvar_bta'") as info:
        optimize(objective="min_cvar", expected_returns=mu, cov=cov, cvar_bta=0.9)
    assert info.value.field == "cvar_bta"


def test_frequency_with_a_covariance_is_refused(mu_cov, stock_returns):
    # given: frequency only annualises a covariance estimated from returns
    mu, cov = mu_cov
    returns = stock_returns.iloc[-500:].dropna()
    # when / then
    with pytest.raises(UnsupportedOptions, match="frequency annualises") as info:
        optimize(objective="min_volatility", expected_returns=mu, cov=cov, frequency=12)
    assert info.value.field == "frequency"
    monthly = optimize(
        objective="min_volatility", expected_returns=None, cov=None, returns=returns, frequency=12
    )
    daily = optimize(objective="min_volatility", expected_returns=None, cov=None, returns=returns)
    assert monthly.volatility == pytest.approx(daily.volatility * (12 / 252) ** 0.5, rel=1e-6)


def test_multi_objective_refuses_cvar_settings_without_a_cvar_term(mu_cov, stock_returns):
    mu, cov = mu_cov
    with pytest.raises(
        UnsupportedOptions, match="cvar_beta is not used by multi_objective without"
    ):
        optimize(objective="multi_objective", expected_returns=mu, cov=cov, cvar_beta=0.9)
    with pytest.raises(UnsupportedOptions, match="drawdown_horizon is not used by multi_objective"):
        optimize(
            objective="multi_objective",
            expected_returns=mu,
            cov=cov,
            returns=stock_returns.iloc[-500:],
            cvar_weight=1.0,
            drawdown_horizon=10,
        )
    with pytest.raises(
        OptimizationError, match="drawdown_horizon must be between 1 and 481"
    ) as info:
        optimize(
            objective="multi_objective",
            expected_returns=mu,
            cov=cov,
            returns=stock_returns.iloc[-500:],
            drawdown_weight=1.0,
            drawdown_horizon=600,
        )
    assert info.value.field == "drawdown_horizon"


def test_black_litterman_refuses_an_unknown_bl_objective(mu_cov):
    mu, cov = mu_cov
    with pytest.raises(OptimizationError, match="unknown bl_objective 'min_volatility'") as info:
        optimize(
            objective="black_litterman",
            expected_returns=mu,
            cov=cov,
            bl_objective="min_volatility",
        )
    assert info.value.field == "bl_objective"


def test_risk_budgets_for_symbols_outside_the_universe_are_refused(mu_cov):
    mu, cov = mu_cov
    budgets = {**dict.fromkeys(mu.index, 1.0), "APPL": 2.0}
    with pytest.raises(OptimizationError, match="outside the universe: APPL") as info:
        optimize(objective="risk_parity", expected_returns=mu, cov=cov, risk_budgets=budgets)
    assert info.value.field == "risk_budgets"


@pytest.mark.parametrize("objective", ["risk_parity", "hrp"])
def test_heuristics_keep_refusing_what_they_cannot_honour(mu_cov, objective):
    mu, cov = mu_cov
    for constraints, field in (
        (Constraints(max_turnover=1.5), "constraints"),
        (Constraints(long_only=False), "constraints.long_only"),
    ):
        with pytest.raises(UnsupportedOptions) as info:
            optimize(objective=objective, expected_returns=mu, cov=cov, constraints=constraints)
        assert info.value.field == field


# The objectives the autopilot registers as optimizer:<name> (the registry says which).
AUTOPILOT_OBJECTIVES = STRATEGY_OBJECTIVES


@pytest.mark.parametrize("objective", AUTOPILOT_OBJECTIVES)
def test_the_autopilots_call_passes_for_every_objective_it_registers(stock_returns, objective):
    # given: rebalancer/autopilot/strategies.py's call, with the tier and the engine's caps
    from portfolios.optimization import mean_historical_return, sample_cov

    returns = stock_returns.iloc[-500:].dropna(how="any")
    classes = dict.fromkeys(returns.columns, "equity")
    constraints = Constraints(
        max_position=0.35, asset_classes=classes, asset_class_max={"equity": 1.0}
    )
    # when
    result = optimize(
        objective=objective,
        expected_returns=mean_historical_return(returns),
        cov=sample_cov(returns),
        returns=returns,
        constraints=constraints,
        risk_tier="conservative",
    )
    # then
    assert result.weights.sum() == pytest.approx(1.0, abs=1e-9)
    assert result.weights.max() <= 0.35 + 1e-9
