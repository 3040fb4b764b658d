"""Backtest configuration: the live pipeline's defaults unless the request overrides them."""

from __future__ import annotations

from rebalancer.autopilot.selectors import TIER_LIMITS
from rebalancer.backtests.services import backtest_config_from

BASE = {"symbols": ["AAA"], "start": "2016-01-04", "end": "2016-06-30"}


def test_limits_default_to_the_risk_tier_as_for_live_portfolios():
    config = backtest_config_from({**BASE, "risk_tier": "conservative"})
    assert config.limits.max_var_95 == TIER_LIMITS["conservative"]["max_var_95"]
    assert config.limits.max_drawdown == TIER_LIMITS["conservative"]["max_drawdown"]
    assert config.limits.max_position == TIER_LIMITS["conservative"]["max_position"]
    assert config.lookback_days == 252


def test_a_null_limit_switches_it_off_and_others_keep_the_tier():
    config = backtest_config_from({**BASE, "risk_tier": "balanced", "limits": {"max_var_95": None}})
    assert config.limits.max_var_95 is None
    assert config.limits.max_drawdown == TIER_LIMITS["balanced"]["max_drawdown"]
