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
