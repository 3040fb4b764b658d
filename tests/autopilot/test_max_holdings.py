"""The autonomy settings' ``constraints.max_holdings``: read, enforced in the targets, checked."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from portfolios.models import AutonomySettings
from rebalancer.autopilot.engine import cycle_decide, holdings_capped
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


@pytest.fixture(autouse=True)
def _strategies():
    strategies_register()


def _market() -> MarketView:
    rng = np.random.default_rng(7)
    idx = pd.bdate_range(end=pd.Timestamp(AS_OF), periods=260)
    returns = pd.DataFrame(rng.normal(0.0004, 0.01, (260, 4)), index=idx, columns=SYMBOLS)
    return MarketView(as_of=AS_OF, returns=returns, prices=dict.fromkeys(SYMBOLS, 100.0),
                      asset_classes={"AAA": "equity", "BBB": "equity", "CCC": "bond", "DDD": "bond"})


def _config(strategy: str, max_holdings: int | None, **limits) -> AutonomyConfig:
    return AutonomyConfig(
        mode="autopilot", strategy=strategy, universe=SYMBOLS, calendar="none",
        target_weights={"AAA": 0.4, "BBB": 0.3, "CCC": 0.2, "DDD": 0.08},
        limits=RiskLimits(max_position=limits.get("max_position", 0.6), max_asset_class=None, max_var_95=0.05,
                          max_drawdown=0.25, max_holdings=max_holdings),
        trade=TradeConfig(cash_buffer=0.02, min_trade_value=50.0),
    )


@pytest.mark.parametrize(
    ("stored", "expected"),
    [({"max_holdings": 12}, 12), ({"max_holdings": None}, None), ({}, None), ({"max_holdings": 0}, None),
     ({"max_holdings": 2.5}, None), ({"max_holdings": True}, None)],
)
def test_max_holdings_is_read_from_the_constraints(stored, expected):
    # given autonomy settings with (or without) a holdings limit
    settings = AutonomySettings(risk_tolerance="balanced", constraints=stored, limits={})
    # when / then
    assert limits_from(settings).max_holdings == expected


def test_capping_keeps_the_largest_weights_scaled_within_the_position_limit():
    # given five weights summing to 0.98 and room for three positions of at most 35 %
    weights = {"A": 0.30, "B": 0.22, "E": 0.20, "C": 0.20, "D": 0.06}
    # when
    capped = holdings_capped(weights, 3, 0.35)
    # then the three largest (ties by symbol: C before E) scaled by 0.98 / 0.72; A (0.408) capped at 35 %
    assert capped == pytest.approx({"A": 0.35, "B": 0.22 * 0.98 / 0.72, "C": 0.20 * 0.98 / 0.72})
    assert holdings_capped(weights, 5, 0.35) == weights
    assert holdings_capped(weights, None, 0.35) == weights


def test_rule_based_strategy_targets_hold_at_most_max_holdings():
    # given a portfolio all in cash whose own targets name four assets, limited to two holdings
    state = HoldingsState(as_of=AS_OF, cash=100_000.0, quantities={})
    # when
    decision = cycle_decide(state=state, market=_market(), config=_config("target_allocation", 2))
    # then only the two largest targets are bought, and the holdings check passed and says so
    assert decision.action == "rebalance"
    assert sorted(decision.target_weights) == ["AAA", "BBB"]
    assert sorted(t.symbol for t in decision.trades) == ["AAA", "BBB"]
    holdings = [c for c in decision.checks if c.name == "holdings"]
    assert [(c.passed, c.value, c.limit) for c in holdings] == [(True, 2.0, 2.0)]
    assert decision.override is None


def test_optimizer_targets_hold_at_most_max_holdings():
    # given the min-volatility optimizer over four assets limited to two holdings
    state = HoldingsState(as_of=AS_OF, cash=100_000.0, quantities={})
    # when
    decision = cycle_decide(state=state, market=_market(),
                            config=_config("optimizer:min_volatility", 2, max_position=0.6))
    # then
    assert decision.action == "rebalance"
    assert len([w for w in decision.target_weights.values() if w > 1e-6]) <= 2
    assert len({t.symbol for t in decision.trades if t.side == "buy"}) <= 2
    assert [c.passed for c in decision.checks if c.name == "holdings"] == [True]


def test_without_a_limit_there_is_no_holdings_check():
    # given no holdings limit
    state = HoldingsState(as_of=AS_OF, cash=100_000.0, quantities={})
    # when
    decision = cycle_decide(state=state, market=_market(), config=_config("target_allocation", None))
    # then all four targets are kept and no holdings check is recorded
    assert sorted(decision.target_weights) == list(SYMBOLS)
    assert "holdings" not in {c.name for c in decision.checks}


def test_capping_takes_ties_round_robin_across_classes_and_keeps_class_caps():
    # given equal weights over three equities and one bond, room for three holdings,
    # and equities capped at 60 %
    weights = {"AAA": 0.245, "BBB": 0.245, "CCC": 0.245, "DDD": 0.245}
    classes = {"AAA": "equity", "BBB": "equity", "CCC": "equity", "DDD": "bond"}
    # when
    capped = holdings_capped(weights, 3, None, classes=classes, class_max={"equity": 0.6})
    # then the bond is kept (round-robin: AAA, DDD, BBB), and equities are scaled down
    # from 2 x 0.98 / 3 = 65.3 % to 60 %, the excess left in cash
    assert capped == pytest.approx({"AAA": 0.3, "BBB": 0.3, "DDD": 0.98 / 3})
    # without classes, ties fall back to symbol order as before
    assert sorted(holdings_capped(weights, 3, None)) == ["AAA", "BBB", "CCC"]


def test_equal_weight_with_max_holdings_respects_the_asset_class_limit():
    # given three equities and a bond, equal weight limited to three holdings and 60 % per class
    market = _market()
    market = MarketView(as_of=market.as_of, returns=market.returns, prices=market.prices,
                        asset_classes={"AAA": "equity", "BBB": "equity", "CCC": "equity", "DDD": "bond"})
    config = _config("equal_weight", 3)
    config = AutonomyConfig(**{**config.__dict__, "limits": RiskLimits(
        max_position=0.6, max_asset_class=0.6, max_var_95=0.05, max_drawdown=0.25, max_holdings=3)})
    state = HoldingsState(as_of=AS_OF, cash=100_000.0, quantities={})
    # when
    decision = cycle_decide(state=state, market=market, config=config)
    # then it invests (no defensive override) in three holdings, the bond among them,
    # and the asset-class check passes
    assert decision.action == "rebalance" and decision.override is None
    held = {s for s, w in decision.target_weights.items() if w > 1e-9}
    assert len(held) == 3 and "DDD" in held
    equity = sum(w for s, w in decision.target_weights.items() if s != "DDD")
    assert equity <= 0.6 + 1e-9
    class_checks = [c for c in decision.checks if c.name.startswith("asset_class")]
    assert class_checks and all(c.passed for c in class_checks)
