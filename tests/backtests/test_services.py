"""The backtest's configuration: the same limits as a live portfolio of the tier."""

from __future__ import annotations

import pytest

from common.errors import ValidationFailed
from portfolios.policy import TIERS, policy_limits
from rebalancer.backtests.services import backtest_config_from

BASE = {"symbols": ["AAA"], "start": "2016-01-04", "end": "2016-06-30"}


def test_limits_default_to_the_risk_tier_as_for_live_portfolios():
    # when
    config = backtest_config_from({**BASE, "risk_tier": "conservative"})
    # then the limits are the tier's, resolved by the one function live portfolios use
    limits = config.resolved_limits()
    assert limits == policy_limits(tier="conservative", cash_buffer=0.02)
    assert limits.max_var_95 == TIERS["conservative"].max_var_95
    assert limits.max_position == TIERS["conservative"].max_position
    assert config.lookback_days == 252


def test_a_limit_given_overrides_the_tier_and_others_keep_it():
    # when a backtest asks for a tighter position cap; null keeps the tier's drawdown limit
    config = backtest_config_from(
        {**BASE, "risk_tier": "balanced", "limits": {"max_position": 0.1, "max_drawdown": None}}
    )
    # then
    limits = config.resolved_limits()
    assert limits.max_position == 0.1
    assert limits.max_drawdown == TIERS["balanced"].max_drawdown


def test_inconsistent_limits_are_a_validation_error_naming_the_field():
    with pytest.raises(ValidationFailed) as caught:
        backtest_config_from({**BASE, "limits": {"max_position": 0.0}})
    assert caught.value.field == "limits.max_position"
