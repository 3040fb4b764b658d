"""The registered strategies: regime_adaptive through the real optimizers and the stored
policy and regime; hybrid through the registry with a stand-in agent."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from mlagents.regime.models import MarketRegime, ReferenceMarket, RegimePolicy
from portfolios import strategies as registry
from portfolios.strategies import StrategyContext, StrategyError, StrategyResult, strategy_get

SYMBOLS = ("AAA", "BBB", "CCC", "DDD")
AS_OF = dt.date(2024, 3, 8)


@pytest.fixture
def ctx() -> StrategyContext:
    rng = np.random.default_rng(1)
    vols = np.array([0.010, 0.015, 0.020, 0.005])
    returns = pd.DataFrame(
        0.0004 + rng.standard_normal((300, 4)) * vols, columns=list(SYMBOLS),
        index=pd.bdate_range(end=AS_OF, periods=300),
    )
    return StrategyContext(as_of=AS_OF, symbols=SYMBOLS, returns=returns, current_weights={}, risk_tier="balanced")


def _store(regime: str, confidence: str, date=AS_OF):
    market = ReferenceMarket.objects.get(name="default")
    probs = {"bull": 0.0, "bear": 0.0, "sideways": 0.0}
    probs[regime] = float(confidence)
    rest = [k for k in probs if k != regime]
    for k in rest:
        probs[k] = (1 - float(confidence)) / 2
    MarketRegime.objects.create(market=market, date=date, regime=regime, confidence=Decimal(confidence),
                                probabilities=probs)


@pytest.mark.django_db
def test_regime_adaptive_bear_uses_min_volatility_and_leaves_the_cash_to_the_overlay(ctx):
    # given a stored switch from bull to bear today
    _store("bull", "0.9", AS_OF - dt.timedelta(days=1))
    _store("bear", "0.84")
    # when
    result = strategy_get("regime_adaptive").target_weights(ctx)
    direct = strategy_get("optimizer:min_volatility").target_weights(ctx)
    # then the min-volatility weights, fully invested, explained with the regime
    assert result.details["chosen_strategy"] == "optimizer:min_volatility"
    assert result.weights == pytest.approx(dict(direct.weights))
    assert result.explanation.startswith(
        "Market regime: bear (confidence 84%), changed since the previous trading day; the policy for a "
        "balanced portfolio in a bear market is minimum volatility."
    )
    assert result.details["regime_changed"] is True


@pytest.mark.django_db
def test_regime_adaptive_follows_an_operator_edit(ctx):
    # given the operator switched bull markets to risk parity
    _store("bull", "0.95")
    RegimePolicy.objects.filter(regime="bull", risk_tier="*").update(strategy="optimizer:risk_parity")
    # when
    result = strategy_get("regime_adaptive").target_weights(ctx)
    # then
    assert result.details["chosen_strategy"] == "optimizer:risk_parity"
    direct = strategy_get("optimizer:risk_parity").target_weights(ctx)
    assert result.weights == pytest.approx(dict(direct.weights))


class StandIn:
    name = "agent:ppo"

    def target_weights(self, c):
        return StrategyResult({"AAA": 0.4, "BBB": 0.3, "CCC": 0.0, "DDD": 0.3}, 0.7, "stand-in", self.name)


class NotPromoted:
    name = "agent:primal_dual"

    def target_weights(self, c):
        raise StrategyError("no active primal_dual agent")


def test_hybrid_without_a_promoted_agent_falls_back_to_the_signals_and_says_why(ctx, monkeypatch):
    # given no agent registered at all
    for name in ("agent:ppo", "agent:primal_dual", "agent:dqn"):
        monkeypatch.delitem(registry._REGISTRY, name, raising=False)
    # when
    result = strategy_get("hybrid").target_weights(ctx)
    # then it still proposes (technical signals on equal weight) and records why
    assert sum(result.weights.values()) == pytest.approx(1.0)
    assert result.details["alpha"] == 1.0 and result.details["agent"] == "no agent"
    assert "no promoted agent can decide" in result.details["fallback"]
    assert result.explanation.startswith("Hybrid without an agent")


def test_hybrid_takes_the_first_promoted_agent_and_the_blend_weight_from_the_settings(ctx, monkeypatch):
    # given the primal-dual agent not promoted and a PPO stand-in, blend weight 0.3
    monkeypatch.setitem(registry._REGISTRY, "agent:primal_dual", NotPromoted)
    monkeypatch.setitem(registry._REGISTRY, "agent:ppo", StandIn)
    result = strategy_get("hybrid").target_weights(replace(ctx, options={"hybrid_alpha": 0.3}))
    assert (result.details["agent"], result.details["alpha"], result.details["fallback"]) == ("agent:ppo", 0.3, None)


def test_hybrid_with_a_named_agent(ctx, monkeypatch):
    # given a stand-in policy registered as the PPO agent, named in the settings
    monkeypatch.setitem(registry._REGISTRY, "agent:ppo", StandIn)
    # when
    result = strategy_get("hybrid").target_weights(replace(ctx, options={"hybrid_agent": "agent:ppo"}))
    # then
    assert result.strategy == "hybrid"
    assert sum(result.weights.values()) == pytest.approx(1.0)
    assert result.weights["CCC"] < result.weights["AAA"]
    assert result.details["adjustment"]["CCC"] == -1.0
    assert 0.0 <= result.confidence <= 1.0
