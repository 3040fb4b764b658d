"""Characterization pins of :func:`risk_attribution` and :func:`pre_trade_check` on real
returns, every method and check path (issue 22: both were split into named steps; the
figures in ``split_pins.json`` were recorded before the split)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from risk.measures.attribution import risk_attribution
from risk.measures.pretrade import RiskLimits, pre_trade_check
from tests.pins import check_or_record, outcome

PINS = Path(__file__).with_name("split_pins.json")
WEIGHTS = {"AAPL": 0.3, "GE": 0.2, "XOM": 0.25, "JPM": 0.15, "WMT": 0.1}
CLASSES = {"AAPL": "equity", "GE": "equity", "XOM": "commodity", "JPM": "equity"}

ATTRIBUTION = {
    "parametric": {},
    "parametric_h10_99": {"horizon_days": 10, "confidence_level": 0.99},
    "historical": {},
    "historical_h5": {"horizon_days": 5},
    "monte_carlo": {"n_simulations": 5_000, "seed": 3},
    "monte_carlo_t": {"n_simulations": 5_000, "distribution": "t", "dof": 4.0, "horizon_days": 3},
    "monte_carlo_bad": {"n_simulations": 0},
    "bad_method": {},
    "bad_level": {"confidence_level": 1.5},
    "bad_horizon": {"horizon_days": 0},
}


@pytest.mark.parametrize("case", sorted(ATTRIBUTION))
def test_risk_attribution_is_pinned(stock_returns, case):
    # given
    method = case.split("_h")[0].removesuffix("_bad").removesuffix("_t") if case != "bad_method" else "delta"
    method = "parametric" if case in ("bad_level", "bad_horizon") else method
    # when
    got = outcome(lambda: risk_attribution(stock_returns, WEIGHTS, method=method, asset_classes=CLASSES,
                                           **ATTRIBUTION[case]))
    # then
    check_or_record(PINS, f"attribution-{case}", got)


def test_risk_attribution_edge_paths_are_pinned(stock_returns):
    # given: nothing held, a constant panel, too few days, a symbol outside the panel
    flat = pd.DataFrame(np.zeros((50, 2)), columns=["A", "B"], index=stock_returns.index[:50])
    cases = {
        "nothing_held": lambda: risk_attribution(stock_returns, {"AAPL": 0.0}),
        "no_variance": lambda: risk_attribution(flat, {"A": 0.5, "B": 0.5}),
        "too_few_days": lambda: risk_attribution(stock_returns.iloc[:40], WEIGHTS, method="historical",
                                                 confidence_level=0.99),
        "outside_panel": lambda: risk_attribution(stock_returns, {**WEIGHTS, "ZZZ": 0.1}),
        "no_classes": lambda: risk_attribution(stock_returns, {"AAPL": 0.6, "XOM": -0.2}, method="historical"),
    }
    # when / then
    for name, call in cases.items():
        check_or_record(PINS, f"attribution-edge-{name}", outcome(call))


CURRENT = {"AAPL": 0.2, "GE": 0.3, "XOM": 0.3, "ZZZ": 0.1}
PROPOSED = {"AAPL": 0.35, "GE": 0.15, "XOM": 0.25, "JPM": 0.15, "WMT": 0.1, "ZZZ": 0.0}
EVERY_LIMIT = RiskLimits(
    max_var=0.015, max_expected_shortfall=0.02, max_drawdown=0.4, max_position=0.3,
    max_asset_class={"equity": 0.6, "commodity": 0.3, "crypto": 0.05}, max_avg_correlation=0.3,
    max_turnover=0.2, min_liquidity=1e6, max_adv_fraction=0.01, excluded_symbols=frozenset({"WMT"}),
)
LIQUIDITY = {"AAPL": 5e9, "GE": 1e9, "JPM": 2e9, "WMT": 8e8, "XOM": 1.5e9}
PRETRADE = {
    "defaults": ({}, RiskLimits(), None, None),
    "every_limit": ({}, EVERY_LIMIT, LIQUIDITY, 1e6),
    "parametric_es": ({}, RiskLimits(var_method="parametric", max_expected_shortfall=0.05,
                                     var_confidence=0.99), None, None),
    "no_liquidity_data": ({}, RiskLimits(min_liquidity=1e6), None, None),
    "adv_without_value": ({}, RiskLimits(max_adv_fraction=0.01), LIQUIDITY, None),
    "unknown_liquidity": ({}, RiskLimits(min_liquidity=1e6), {"AAPL": 1e9}, None),
    "thin": ({}, RiskLimits(min_liquidity=1.2e9), LIQUIDITY, None),
    "adv_zero": ({}, RiskLimits(max_adv_fraction=0.5), {**LIQUIDITY, "JPM": 0.0}, 1e6),
    "adv_ok": ({}, RiskLimits(max_adv_fraction=0.5, min_liquidity=1.0), LIQUIDITY, 1e6),
    "liquid_no_trades": ({"proposed": {"AAPL": 0.2, "GE": 0.3, "XOM": 0.3}, "current": {"AAPL": 0.2, "GE": 0.3,
                          "XOM": 0.3}}, RiskLimits(min_liquidity=1.0), LIQUIDITY, None),
    "short": ({"proposed": {"AAPL": 0.6, "XOM": -0.1}}, RiskLimits(max_avg_correlation=0.5), None, None),
    "short_allowed": ({"proposed": {"AAPL": 0.6, "XOM": -0.1}}, RiskLimits(allow_short=True), None, None),
    "single_holding": ({"proposed": {"AAPL": 0.05}}, RiskLimits(max_avg_correlation=0.5), None, None),
    "empty": ({"proposed": {}}, EVERY_LIMIT, LIQUIDITY, 1e6),
    "not_finite": ({"proposed": {"AAPL": float("nan")}}, RiskLimits(), None, None),
    "current_not_finite": ({"current": {"AAPL": float("inf")}}, RiskLimits(), None, None),
    "no_history": ({"proposed": {"ZZZ": 0.5}}, RiskLimits(), None, None),
}


@pytest.mark.parametrize("case", sorted(PRETRADE))
def test_pre_trade_check_is_pinned(stock_returns, case):
    # given
    moves, limits, liquidity, value = PRETRADE[case]
    # when
    got = outcome(lambda: pre_trade_check(
        current_weights=moves.get("current", CURRENT), proposed_weights=moves.get("proposed", PROPOSED),
        returns=stock_returns, limits=limits, asset_classes=CLASSES, liquidity=liquidity,
        portfolio_value=value,
    ))
    # then
    check_or_record(PINS, f"pretrade-{case}", got)
