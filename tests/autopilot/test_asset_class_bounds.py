"""The autonomy settings' ``constraints.asset_class_bounds``: read, solved for, checked."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from portfolios.models import AutonomySettings
from rebalancer.autopilot.engine import cycle_decide
from rebalancer.autopilot.selectors import limits_from
from rebalancer.autopilot.strategies import strategies_register
from rebalancer.autopilot.types import (
    AutonomyConfig,
    HoldingsState,
    MarketView,
    RiskLimits,
    TradeConfig,
)

AS_OF = date(2024, 5, 15)
SYMBOLS = ("AAA", "BBB", "CCC", "DDD")
CLASSES = {"AAA": "equity", "BBB": "equity", "CCC": "bond", "DDD": "bond"}


@pytest.fixture(autouse=True)
def _strategies():
    strategies_register()


def _market() -> MarketView:
    rng = np.random.default_rng(7)
    idx = pd.bdate_range(end=pd.Timestamp(AS_OF), periods=260)
    # bonds calmer than equities: min volatility alone would hold mostly bonds
    returns = pd.DataFrame(rng.normal(0.0004, 1.0, (260, 4)) * [0.015, 0.015, 0.004, 0.004],
                           index=idx, columns=SYMBOLS)
    return MarketView(as_of=AS_OF, returns=returns, prices=dict.fromkeys(SYMBOLS, 100.0), asset_classes=CLASSES)


def _config(strategy: str, bounds, target_weights=None) -> AutonomyConfig:
    return AutonomyConfig(
        mode="autopilot", strategy=strategy, universe=SYMBOLS, calendar="none",
        target_weights=target_weights or {},
        limits=RiskLimits(max_position=0.6, max_asset_class=None, max_var_95=0.05, max_drawdown=0.25,
                          asset_class_bounds=bounds),
        trade=TradeConfig(cash_buffer=0.02, min_trade_value=50.0),
    )


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ({"asset_class_bounds": {"equity": [0.3, 0.8], "bond": [0, 0.5]}},
         (("bond", 0.0, 0.5), ("equity", 0.3, 0.8))),
        ({"asset_class_bounds": {"equity": [0.9, 0.2], "bond": "x", "cash": [0, 2]}}, ()),
        ({"asset_class_bounds": None}, ()),
        ({}, ()),
    ],
)
def test_bounds_are_read_from_the_constraints(stored, expected):
    # given autonomy settings with (or without, or with unusable) class bounds
    settings = AutonomySettings(risk_tolerance="balanced", constraints=stored, limits={})
    # when / then
    assert limits_from(settings).asset_class_bounds == expected


def test_optimizer_targets_stay_within_the_bounds():
    # given min volatility (which prefers the calm bonds) with equities held at 40-60 %
    state = HoldingsState(as_of=AS_OF, cash=100_000.0, quantities={})
    bounds = (("equity", 0.4, 0.6),)
    # when
    decision = cycle_decide(state=state, market=_market(), config=_config("optimizer:min_volatility", bounds))
    free = cycle_decide(state=state, market=_market(), config=_config("optimizer:min_volatility", ()))
    # then the equity weight is lifted to the floor (unconstrained it is lower), and both checks passed
    equity = sum(w for s, w in decision.target_weights.items() if CLASSES[s] == "equity")
    free_equity = sum(w for s, w in free.target_weights.items() if CLASSES[s] == "equity")
    assert free_equity < 0.4 - 1e-3
    assert 0.4 - 1e-6 <= equity <= 0.6 + 1e-6
    checks = {c.name: c for c in decision.checks}
    assert checks["asset_class:equity"].passed and checks["asset_class:equity"].limit == 0.6
    assert checks["asset_class_min:equity"].passed and checks["asset_class_min:equity"].limit == 0.4
    assert decision.override is None


def test_targets_outside_the_bounds_fail_the_checks_and_go_defensive():
    # given the investor's own targets with 80 % in equities, bounded to at most 50 %
    state = HoldingsState(as_of=AS_OF, cash=100_000.0, quantities={})
    targets = {"AAA": 0.4, "BBB": 0.4, "CCC": 0.1, "DDD": 0.08}
    # when
    decision = cycle_decide(state=state, market=_market(),
                            config=_config("target_allocation", (("equity", 0.0, 0.5),), targets))
    # then the class check names the breach and the defensive allocation replaces the targets
    failed = [c for c in decision.checks if not c.passed and not c.name.startswith("defensive:")]
    assert [c.name for c in failed] == ["asset_class:equity"]
    assert failed[0].value == pytest.approx(0.8)
    assert decision.override is not None and decision.override.source == "pre_trade"


def test_a_class_floor_below_the_targets_fails_its_check():
    # given the investor's own targets with 18 % in bonds, bounded to at least 30 %
    state = HoldingsState(as_of=AS_OF, cash=100_000.0, quantities={})
    targets = {"AAA": 0.4, "BBB": 0.4, "CCC": 0.1, "DDD": 0.08}
    # when
    decision = cycle_decide(state=state, market=_market(),
                            config=_config("target_allocation", (("bond", 0.3, 1.0),), targets))
    # then
    floor = next(c for c in decision.checks if c.name == "asset_class_min:bond")
    assert (floor.passed, floor.limit) == (False, 0.3)
    assert floor.value == pytest.approx(0.18)
    assert decision.override is not None
