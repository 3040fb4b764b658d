"""The regime policy and the adaptive strategy (engine level, no database)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pandas as pd
import pytest

from mlagents.regime.engine.policy import (
    DEFAULT_POLICY,
    LEGACY_POLICY,
    AdaptiveStrategy,
    PolicyRule,
    policy_choose,
)
from portfolios.strategies import RegimeState, StrategyContext, StrategyError, StrategyResult

SYMBOLS = ("AAA", "BBB")


class FixedStrategy:
    """A stand-in optimizer that returns fixed weights and records that it ran."""

    def __init__(self, name: str, weights: dict[str, float]):
        self.name = name
        self.weights = weights
        self.calls = 0

    def target_weights(self, ctx):
        self.calls += 1
        return StrategyResult(self.weights, 0.9, f"{self.name} weights.", self.name)


@pytest.fixture
def optimizers():
    return {
        "optimizer:max_sharpe": FixedStrategy("optimizer:max_sharpe", {"AAA": 0.8, "BBB": 0.2}),
        "equal_weight": FixedStrategy("equal_weight", {"AAA": 0.5, "BBB": 0.5}),
        "optimizer:risk_parity": FixedStrategy("optimizer:risk_parity", {"AAA": 0.5, "BBB": 0.5}),
        "optimizer:min_volatility": FixedStrategy("optimizer:min_volatility", {"AAA": 0.1, "BBB": 0.9}),
    }


def _ctx(regime: RegimeState | None, tier: str = "balanced") -> StrategyContext:
    returns = pd.DataFrame({"AAA": [0.01, -0.01], "BBB": [0.0, 0.002]})
    return StrategyContext(
        as_of=dt.date(2024, 1, 5), symbols=SYMBOLS, returns=returns, current_weights={}, risk_tier=tier,
        regime=regime,
    )


def _adaptive(optimizers, rules=LEGACY_POLICY, regime_at=lambda d: None):
    return AdaptiveStrategy(rules=lambda: list(rules), regime_at=regime_at, lookup=optimizers.__getitem__)


@pytest.mark.parametrize("tier", ["conservative", "balanced", "aggressive"])
@pytest.mark.parametrize(
    ("regime", "strategy"),
    [("bull", "equal_weight"), ("sideways", "optimizer:risk_parity"), ("bear", "optimizer:min_volatility")],
)
def test_default_policy_per_regime_and_tier(regime, tier, strategy):
    # the default is diversified in every regime and holds no extra cash (the overlay does that)
    choice = policy_choose(DEFAULT_POLICY, RegimeState(regime, 0.9), tier)
    assert (choice.strategy, choice.cash_buffer, choice.confident) == (strategy, 0.0, True)


@pytest.mark.parametrize(
    ("regime", "tier", "strategy", "buffer"),
    [
        ("bull", "balanced", "optimizer:max_sharpe", 0.0),
        ("bull", "conservative", "optimizer:risk_parity", 0.0),
        ("bear", "balanced", "optimizer:min_volatility", 0.20),
        ("bear", "conservative", "optimizer:min_volatility", 0.30),
        ("bear", "aggressive", "optimizer:min_volatility", 0.10),
    ],
)
def test_tier_rows_win_over_the_star_row(regime, tier, strategy, buffer):
    choice = policy_choose(LEGACY_POLICY, RegimeState(regime, 0.9), tier)
    assert (choice.strategy, choice.cash_buffer, choice.confident) == (strategy, buffer, True)


def test_low_confidence_falls_back_without_cash_buffer():
    choice = policy_choose(DEFAULT_POLICY, RegimeState("bear", 0.55), "balanced")
    assert (choice.strategy, choice.cash_buffer, choice.confident) == ("optimizer:risk_parity", 0.0, False)


def test_no_rule_for_the_regime_is_an_error():
    with pytest.raises(StrategyError, match="no rule for regime 'bear'"):
        policy_choose([PolicyRule("bull", "*", "optimizer:max_sharpe")], RegimeState("bear", 0.9), "balanced")


def test_adaptive_switches_strategy_with_the_regime(optimizers):
    # given the same portfolio in a bull and then a bear market
    strategy = _adaptive(optimizers)
    # when
    bull = strategy.target_weights(_ctx(RegimeState("bull", 0.91, {"bull": 0.91, "bear": 0.01, "sideways": 0.08})))
    bear = strategy.target_weights(_ctx(RegimeState("bear", 0.87, {"bull": 0.03, "bear": 0.87, "sideways": 0.10},
                                                    changed=True)))
    # then bull delegates to max Sharpe, bear to min volatility with a 20 % cash buffer
    assert bull.weights == {"AAA": 0.8, "BBB": 0.2}
    assert bear.weights == pytest.approx({"AAA": 0.08, "BBB": 0.72})
    assert bear.details["chosen_strategy"] == "optimizer:min_volatility"
    assert bear.details["cash_buffer"] == 0.20
    assert bear.strategy == "regime_adaptive"
    assert bear.confidence == 0.87  # min(regime 0.87, optimizer 0.9)


def test_adaptive_explanation_cites_regime_and_confidence(optimizers):
    result = _adaptive(optimizers).target_weights(
        _ctx(RegimeState("bear", 0.87, {"bull": 0.03, "bear": 0.87, "sideways": 0.10}, changed=True))
    )
    assert result.explanation.startswith(
        "Market regime: bear (confidence 87%), changed since the previous trading day; the policy for a "
        "balanced portfolio in a bear market is minimum volatility, holding 20% in cash."
    )
    assert result.explanation.endswith("optimizer:min_volatility weights.")


def test_adaptive_low_confidence_explanation(optimizers):
    result = _adaptive(optimizers).target_weights(_ctx(RegimeState("bull", 0.52)))
    assert result.weights == {"AAA": 0.5, "BBB": 0.5}
    assert "below the policy's 60% threshold, so the cautious risk parity is used instead of maximum Sharpe ratio" in (
        result.explanation
    )


def test_adaptive_reads_the_stored_regime_when_the_context_has_none(optimizers):
    seen = []

    def regime_at(day):
        seen.append(day)
        return RegimeState("sideways", 0.8)

    result = _adaptive(optimizers, regime_at=regime_at).target_weights(_ctx(None))
    assert seen == [dt.date(2024, 1, 5)]
    assert result.details["chosen_strategy"] == "optimizer:risk_parity"


def test_adaptive_without_any_regime_call_acts_as_on_an_uncertain_one(optimizers):
    # given no call in the context and none stored: it still trades, with the cautious strategy
    result = _adaptive(optimizers).target_weights(_ctx(None))
    assert result.details["chosen_strategy"] == "optimizer:risk_parity"
    assert result.details["confident"] is False and result.details["regime_confidence"] == 0.0
    assert result.weights


@pytest.mark.parametrize("tier", ["conservative", "moderate", "balanced", "growth", "aggressive"])
@pytest.mark.parametrize("regime", ["bull", "bear", "sideways"])
def test_adaptive_has_targets_in_every_regime_for_every_tier(optimizers, regime, tier):
    ctx = replace(_ctx(RegimeState(regime, 0.9)), risk_tier=tier)
    result = _adaptive(optimizers).target_weights(ctx)
    assert sum(result.weights.values()) > 0.5
