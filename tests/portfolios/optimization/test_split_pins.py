"""Characterization pins of the optimizer's facade, the multi-objective and risk-budgeting
objectives and the rebalancing path's events, on real prices (issue 22: they were split
into named steps; these pins say the split changed nothing).

The figures were recorded from the code before the split (``PIN_RECORD=1`` rewrites
``split_pins.json``); every float must agree to 1e-12, every error exactly (type,
message, field).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from portfolios.optimization import (
    Constraints,
    compile_constraints,
    mean_historical_return,
    optimize,
    returns_from_prices,
    sample_cov,
)
from portfolios.optimization.rebalancing import RebalancingPath, RebalancingQP
from tests.pins import check_or_record, outcome

PINS = Path(__file__).with_name("split_pins.json")
SYMBOLS = ["AAPL", "AMZN", "GE", "AMD", "WMT", "BAC", "T", "XOM", "PFE", "JPM"]


@pytest.fixture(scope="module")
def market(stock_prices):
    returns = returns_from_prices(stock_prices[SYMBOLS].loc["2015-01-01":])
    mu, cov = mean_historical_return(returns), sample_cov(returns)
    current = pd.Series([0.3, 0.0, 0.1, 0.05, 0.15, 0.0, 0.1, 0.1, 0.2, 0.0], index=SYMBOLS)
    return returns, mu, cov, current


def _run(market, objective, constraints=None, *, with_returns=True, **kw):
    returns, mu, cov, _current = market
    return outcome(lambda: optimize(
        objective=objective, expected_returns=mu, cov=cov,
        returns=returns if with_returns else None, constraints=constraints, **kw,
    ))


CAPPED = Constraints(max_position=0.3)
CASES = {
    # the facade's own checks
    "unknown_objective": lambda m: _run(m, "min_volatilty"),
    "rf_not_finite": lambda m: _run(m, "min_volatility", risk_free_rate=float("nan")),
    "frequency_with_cov": lambda m: _run(m, "min_volatility", frequency=52),
    "risk_aversion_zero": lambda m: _run(m, "max_utility", risk_aversion=0.0),
    "unknown_option": lambda m: _run(m, "kelly", kelly_fracton=0.1),
    "foreign_option": lambda m: _run(m, "min_volatility", cvar_beta=0.9),
    "needs_mu": lambda m: outcome(lambda: optimize(objective="max_sharpe", expected_returns=None, cov=m[2])),
    "sharpe_below_rf": lambda m: _run(m, "max_sharpe", risk_free_rate=5.0),
    "max_sharpe": lambda m: _run(m, "max_sharpe", CAPPED, risk_free_rate=0.02),
    "max_utility_tier": lambda m: _run(m, "max_utility", CAPPED, risk_tier="aggressive"),
    "kelly": lambda m: _run(m, "kelly", CAPPED, kelly_fraction=0.3),
    "min_cvar": lambda m: _run(m, "min_cvar", CAPPED, cvar_beta=0.9),
    "no_cov": lambda m: outcome(lambda: optimize(
        objective="min_volatility", expected_returns=m[1], cov=None, returns=m[0], frequency=252)),
    # multi_objective
    "mo_default": lambda m: _run(m, "multi_objective", CAPPED),
    "mo_weights": lambda m: _run(m, "multi_objective", CAPPED, return_weight=2.0, variance_weight=3.0,
                                 cvar_weight=0.5, cvar_beta=0.9),
    "mo_drawdown": lambda m: _run(m, "multi_objective", CAPPED, drawdown_weight=1.0, drawdown_horizon=10),
    "mo_turnover": lambda m: _run(m, "multi_objective", Constraints(max_position=0.3, transaction_cost=0.001),
                                  turnover_weight=0.05, current_weights=m[3]),
    "mo_beta_unused": lambda m: _run(m, "multi_objective", cvar_beta=0.9),
    "mo_horizon_unused": lambda m: _run(m, "multi_objective", cvar_weight=1.0, drawdown_horizon=10),
    "mo_horizon_too_long": lambda m: _run(m, "multi_objective", drawdown_weight=1.0, drawdown_horizon=5000),
    "mo_cvar_no_returns": lambda m: _run(m, "multi_objective", cvar_weight=1.0, with_returns=False),
    "mo_negative": lambda m: _run(m, "multi_objective", cvar_weight=-1.0),
    # risk_parity and hrp
    "rp_equal": lambda m: _run(m, "risk_parity"),
    "rp_budgets": lambda m: _run(m, "risk_parity", risk_budgets={s: i + 1.0 for i, s in enumerate(SYMBOLS)}),
    "rp_excluded": lambda m: _run(m, "risk_parity", Constraints(excluded=["GE", "AMD"]),
                                  risk_budgets={s: 1.0 for s in SYMBOLS if s not in ("GE", "AMD")}),
    "rp_budget_unknown": lambda m: _run(m, "risk_parity", risk_budgets={"AAPL": 1.0, "ZZZ": 1.0}),
    "rp_budget_missing": lambda m: _run(m, "risk_parity", risk_budgets={"AAPL": 1.0}),
    "rp_short": lambda m: _run(m, "risk_parity", Constraints(long_only=False)),
    "rp_cost": lambda m: _run(m, "risk_parity", Constraints(transaction_cost=0.001)),
    "rp_cardinality": lambda m: _run(m, "risk_parity", Constraints(max_holdings=5)),
    "rp_turnover": lambda m: _run(m, "risk_parity", Constraints(max_turnover=0.5), current_weights=m[3]),
    "rp_capped": lambda m: _run(m, "risk_parity", Constraints(max_position=0.11)),
    "hrp_returns": lambda m: _run(m, "hrp"),
    "hrp_cov_only": lambda m: _run(m, "hrp", with_returns=False),
    "hrp_buffer": lambda m: _run(m, "hrp", Constraints(cash_buffer=0.05, excluded=["T"])),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_optimize_outcomes_are_pinned(market, name):
    # given / when
    got = CASES[name](market)
    # then
    check_or_record(PINS, name, got)


@pytest.mark.parametrize(("cost", "cap"), [(0.0, None), (0.002, None), (0.002, 0.4), (0.0, 0.3)])
def test_rebalancing_path_segments_are_pinned(market, cost, cap):
    # given: uneven current weights, a 30 % position cap
    _returns, mu, cov, current = market
    constraints = Constraints(max_position=0.3, transaction_cost=cost, max_turnover=cap)
    form = compile_constraints(constraints, SYMBOLS, current_weights=current.to_numpy())
    qp = RebalancingQP(cov.to_numpy(), mu.to_numpy(), form, current.to_numpy(), cost=cost, max_turnover=cap)
    # when
    path = outcome(lambda: [(s.start, s.end, s.a, s.b, s.net0, s.net1) for s in qp.segments()])
    traced = outcome(lambda: RebalancingPath.trace(qp).nets)
    # then
    check_or_record(PINS, f"path_{cost}_{cap}", {"segments": path, "traced": traced})
