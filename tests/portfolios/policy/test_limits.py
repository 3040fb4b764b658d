"""The one table of tiers and the resolved limits: horizon rule, overrides, consistency."""

from __future__ import annotations

import itertools

import pytest

from portfolios.policy import TIERS, LimitOverrides, horizon_factor, policy_limits
from portfolios.policy.limits import LimitsError
from portfolios.policy.tiers import TIER_NAMES, sleeve_of


def test_tiers_get_riskier_from_conservative_to_aggressive():
    tiers = [TIERS[name] for name in TIER_NAMES]
    for a, b in itertools.pairwise(tiers):
        assert a.volatility_target < b.volatility_target
        assert a.equity[1] < b.equity[1] and a.equity[0] < b.equity[0]
        assert a.max_var_95 < b.max_var_95 and a.max_drawdown < b.max_drawdown
        assert a.risk_aversion > b.risk_aversion
        assert a.class_caps["crypto"] <= b.class_caps["crypto"]


@pytest.mark.parametrize(("years", "factor"), [(1, 0.64), (2, 0.68), (5, 0.80), (10, 1.0), (12.5, 1.1), (40, 1.1),
                                               (None, 1.0), (0, 0.6)])
def test_the_horizon_rule(years, factor):
    assert horizon_factor(years) == pytest.approx(factor)


def test_a_short_horizon_shrinks_the_risk_budget_by_the_documented_rule():
    # given a growth investor who needs the money in 5 years (f = 0.8)
    ten, five = policy_limits(tier="growth", horizon_years=10), policy_limits(tier="growth", horizon_years=5)
    # then volatility target, VaR and drawdown limits and the risky ceilings are scaled by 0.8
    assert five.volatility_target == pytest.approx(ten.volatility_target * 0.8)
    assert five.max_var_95 == pytest.approx(ten.max_var_95 * 0.8)
    assert five.max_drawdown == pytest.approx(ten.max_drawdown * 0.8)
    assert five.sleeve_ranges["equity"] == (pytest.approx(0.55), pytest.approx(0.85 * 0.8))
    assert five.sleeve_ranges["bonds"] == ten.sleeve_ranges["bonds"]


def test_overrides_replace_the_tier_field_by_field():
    limits = policy_limits(tier="balanced", overrides=LimitOverrides(
        max_position=0.1, asset_class_bounds={"equity": (0.2, 0.9), "crypto": (0.0, 0.01)}, max_holdings=12,
    ))
    assert limits.max_position == 0.1
    assert limits.sleeve_ranges["equity"] == (0.2, 0.9)
    assert limits.class_ranges["crypto"] == (0.0, 0.01)
    assert limits.class_cap("crypto") == 0.01
    assert limits.max_holdings == 12
    assert limits.max_drawdown == TIERS["balanced"].max_drawdown


def test_the_cash_buffer_raises_the_cash_floor():
    assert policy_limits(tier="aggressive", cash_buffer=0.05).sleeve_ranges["cash"][0] == 0.05


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (LimitOverrides(asset_class_bounds={"equity": (0.7, 0.9), "bond": (0.5, 0.6)}), "asset_class_bounds"),
        (LimitOverrides(asset_class_bounds={"equity": (0.9, 0.2)}), "asset_class_bounds.equity"),
        (LimitOverrides(asset_class_bounds={"gold": (0, 0.2)}), "asset_class_bounds.gold"),
        (LimitOverrides(max_position=1.5), "max_position"),
        (LimitOverrides(max_holdings=0), "max_holdings"),
    ],
)
def test_limits_that_cannot_hold_together_name_the_field(overrides, field):
    with pytest.raises(LimitsError) as caught:
        policy_limits(tier="balanced", overrides=overrides)
    assert caught.value.field == field


def test_unknown_classes_count_as_equity():
    assert sleeve_of("unknown") == "equity" and sleeve_of("bond") == "bonds" and sleeve_of("crypto") == "alternatives"
