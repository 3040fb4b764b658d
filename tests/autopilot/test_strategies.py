"""The optimizer as a strategy: its explanation, the retry without limits, and its errors."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from portfolios.optimization import Constraints
from portfolios.optimization.exceptions import InfeasibleConstraints, OptimizationError
from portfolios.strategies import StrategyContext, StrategyError
from rebalancer.autopilot.strategies import OptimizerStrategy

SYMBOLS = ("AAA", "BBB", "CCC")


def context(*, days: int = 120, constraints: Constraints | None = None) -> StrategyContext:
    rng = np.random.default_rng(3)
    idx = pd.bdate_range(end="2024-05-15", periods=days)
    returns = pd.DataFrame(rng.normal(0.0005, 0.01, (days, len(SYMBOLS))), index=idx, columns=SYMBOLS)
    return StrategyContext(as_of=date(2024, 5, 15), symbols=SYMBOLS, returns=returns, current_weights={},
                           constraints=constraints)


CAPPED = Constraints(bounds={s: (0.0, 0.2) for s in SYMBOLS})  # 3 x 20 % cannot hold 100 %


def test_the_result_explains_the_objective_and_the_history():
    # when
    result = OptimizerStrategy(objective="min_volatility").target_weights(context())
    # then
    assert result.strategy == "optimizer:min_volatility"
    assert result.confidence == pytest.approx(120 / 252)
    assert result.explanation == (
        "The optimizer chose the lowest-volatility mix over 3 assets using 120 days of history "
        "(expected return 22.0% a year, volatility 9.2%)."
    )
    assert set(result.details) == {"objective", "expected_return", "volatility", "sharpe_ratio", "observations",
                                   "risk_tier"}
    assert (result.details["objective"], result.details["observations"], result.details["risk_tier"]) == (
        "min_volatility", 120, "balanced")
    assert sum(result.weights.values()) == pytest.approx(1.0)


def test_a_short_history_is_refused():
    with pytest.raises(StrategyError) as caught:
        OptimizerStrategy(objective="min_volatility").target_weights(context(days=10))
    assert str(caught.value) == "optimizer:min_volatility needs at least 20 days of returns for every symbol; got 10"


def test_limits_the_optimizer_cannot_meet_are_left_to_the_projection():
    # when the position caps cannot add up to a full portfolio
    capped = OptimizerStrategy(objective="min_volatility").target_weights(context(constraints=CAPPED))
    free = OptimizerStrategy(objective="min_volatility").target_weights(context())
    # then it solves without them and says so
    assert capped.weights == pytest.approx(free.weights, abs=1e-9)
    assert capped.explanation == free.explanation + (
        " The optimizer could not meet every limit directly; the projection onto them did.")


def test_a_budgeted_objective_takes_exclusions_and_the_cash_buffer_only():
    # risk parity ignores the caps (the projection applies them afterwards): no retry, no note
    result = OptimizerStrategy(objective="risk_parity").target_weights(context(constraints=CAPPED))
    assert "could not meet every limit" not in result.explanation
    assert max(result.weights.values()) > 0.2


def _failing_solve(*errors):
    calls = []

    def solve(self, returns, constraints, extra):
        calls.append(constraints)
        raise errors[len(calls) - 1]

    return solve, calls


def test_a_retry_without_limits_that_fails_too_is_a_strategy_error(monkeypatch):
    solve, calls = _failing_solve(InfeasibleConstraints(["caps sum to 0.6"]), OptimizationError("solver failed"))
    monkeypatch.setattr(OptimizerStrategy, "_solve", solve)
    with pytest.raises(StrategyError) as caught:
        OptimizerStrategy(objective="min_volatility").target_weights(context(constraints=CAPPED))
    assert str(caught.value) == "optimizer:min_volatility: solver failed"
    assert calls == [CAPPED, None]


def test_infeasible_without_limits_is_a_strategy_error_with_no_retry(monkeypatch):
    solve, calls = _failing_solve(InfeasibleConstraints(["no assets"]))
    monkeypatch.setattr(OptimizerStrategy, "_solve", solve)
    with pytest.raises(StrategyError) as caught:
        OptimizerStrategy(objective="min_volatility").target_weights(context())
    assert str(caught.value) == "optimizer:min_volatility: infeasible constraints: no assets"
    assert calls == [None]


def test_a_solver_failure_is_a_strategy_error_with_no_retry(monkeypatch):
    solve, calls = _failing_solve(OptimizationError("solver failed"))
    monkeypatch.setattr(OptimizerStrategy, "_solve", solve)
    with pytest.raises(StrategyError) as caught:
        OptimizerStrategy(objective="min_volatility").target_weights(context(constraints=CAPPED))
    assert str(caught.value) == "optimizer:min_volatility: solver failed"
    assert calls == [CAPPED]
