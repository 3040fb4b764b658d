"""Characterization pins of :func:`policy_limits` for every tier, horizon and override path
(issue 22: it was split into named steps; ``split_pins`` figures recorded before the split)."""

from __future__ import annotations

from pathlib import Path

import pytest

from portfolios.policy import TIERS, LimitOverrides, policy_limits
from tests.pins import check_or_record, outcome

PINS = Path(__file__).with_name("policy_limits_pins.json")

OVERRIDES = {
    "none": None,
    "sleeves_and_classes": LimitOverrides(asset_class_bounds={"bond": (0.1, 0.5), "crypto": (0.0, 0.01),
                                                              "equity": (0.2, 0.7), "cash": (0.0, 0.2)}),
    "max_asset_class": LimitOverrides(max_asset_class=0.35),
    "every_fraction": LimitOverrides(max_position=0.2, max_var_95=0.03, max_drawdown=0.15, max_turnover=0.4,
                                     volatility_target=0.09, max_avg_correlation=0.6, max_holdings=12),
    "max_holdings_float": LimitOverrides(max_holdings=3.0),
    "max_holdings_bool": LimitOverrides(max_holdings=True),
    "max_holdings_half": LimitOverrides(max_holdings=2.5),
    "max_holdings_zero": LimitOverrides(max_holdings=0),
    "unknown_class": LimitOverrides(asset_class_bounds={"gold": (0.0, 0.1)}),
    "bad_range": LimitOverrides(asset_class_bounds={"equity": (0.6, 0.2)}),
    "not_a_range": LimitOverrides(asset_class_bounds={"equity": "x"}),
    "floors_over_one": LimitOverrides(asset_class_bounds={"equity": (0.7, 0.9), "bonds": (0.5, 0.9)}),
    "position_zero": LimitOverrides(max_position=0.0),
    "var_above_one": LimitOverrides(max_var_95=1.5),
    "class_cap_zero": LimitOverrides(max_asset_class=0.0),
}


@pytest.mark.parametrize("tier", sorted(TIERS))
@pytest.mark.parametrize("horizon", [None, 1, 10, 30])
@pytest.mark.parametrize("overrides", sorted(OVERRIDES))
def test_policy_limits_are_pinned(tier, horizon, overrides):
    # given / when
    got = outcome(lambda: policy_limits(tier=tier, horizon_years=horizon, overrides=OVERRIDES[overrides],
                                        cash_buffer=0.03, excluded_symbols=("XOM", "AAPL", "XOM")))
    # then
    check_or_record(PINS, f"{tier}-{horizon}-{overrides}", got)


@pytest.mark.parametrize(("tier", "cash_buffer"), [("growth", 0.0), ("balanced", 1.5), ("nope", 0.02)])
def test_policy_limits_tier_object_buffer_and_unknown_tier_are_pinned(tier, cash_buffer):
    # given / when
    got = outcome(lambda: policy_limits(tier=TIERS.get(tier, tier), cash_buffer=cash_buffer))
    # then
    check_or_record(PINS, f"tier_object-{tier}-{cash_buffer}", got)
