"""Walk-forward retraining: agents retrained in memory on the history known at each date."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rebalancer.autopilot.types import AutonomyConfig, TradeConfig
from rebalancer.backtests.engine.replay import ReplaySpec, replay
from rebalancer.backtests.walkforward import walk_forward_retrainer


@pytest.mark.slow  # trains two PPO agents (~30 s on the shared machine)
def test_agents_are_retrained_monthly_on_past_data_only(prices_5y):
    # given a PPO agent retrained at each month start with a tiny budget
    prices = prices_5y.iloc[:290]  # 2008-01-30 .. late February
    symbols = list(prices.columns)
    hook = walk_forward_retrainer(algorithm="ppo", symbols=symbols, episodes=2, seed=3)
    seen: list[tuple] = []

    def recording(as_of, returns):
        seen.append((as_of, returns.index[-1].date()))
        return hook(as_of, returns)

    spec = ReplaySpec(
        initial_cash=Decimal("100000"),
        autonomy=AutonomyConfig(
            mode="autopilot",
            strategy="agent:ppo",
            universe=tuple(symbols),
            calendar="monthly",
            rebalance_threshold=1.0,
            trade=TradeConfig(cash_buffer=0.0),
        ),
        retrain=recording,
        retrain_every="monthly",
    )
    # when
    result = replay(prices, spec, start=prices.index[270].date())
    # then it retrained on each month's first day, never seeing a later return
    assert [as_of.isoformat() for as_of, _ in seen] == ["2008-01-30", "2008-02-01"]
    assert all(last <= as_of for as_of, last in seen)
    strategies = {d.strategy for d in result.decisions if d.action == "rebalance"}
    assert len(strategies) == 1 and next(iter(strategies)).startswith("walkforward:ppo:")
    assert len(result.fills) > 0


def test_report_closes_walk_forward_hooks_and_their_strategies_leave_the_registry(prices_5y):
    # given: a walk-forward hook (too little history: it never trains) and a spy on close()
    from portfolios.strategies import register, strategy_names
    from rebalancer.backtests.engine.config import BacktestConfig
    from rebalancer.backtests.engine.report import backtest_report

    prices = prices_5y.iloc[:80]
    symbols = tuple(prices.columns)
    hook = walk_forward_retrainer(algorithm="ppo", symbols=symbols, episodes=2, min_days=10_000)
    register(hook.name, lambda: None)  # as a retrain would have
    closed = []
    original_close = hook.close
    hook.close = lambda: (closed.append(hook.name), original_close())
    config = BacktestConfig(
        symbols=symbols, start=prices.index[60].date(), end=prices.index[-1].date(),
        strategies=("equal_weight",), retrain_every="monthly", baselines=False,
    )
    # when
    backtest_report(config, prices, retrain=lambda name: hook)
    # then: closed once, and the run's strategy is gone from the registry
    assert closed == [hook.name]
    assert hook.name not in strategy_names()
