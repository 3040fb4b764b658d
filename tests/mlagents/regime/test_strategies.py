"""The registered strategies: regime_adaptive through the real optimizers and the stored
policy and regime; hybrid through the registry with a stand-in agent."""

from __future__ import annotations

import datetime as dt
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
def test_regime_adaptive_bear_uses_min_volatility_with_a_cash_buffer(ctx):
    # given a stored switch from bull to bear today
    _store("bull", "0.9", AS_OF - dt.timedelta(days=1))
    _store("bear", "0.84")
    # when
    result = strategy_get("regime_adaptive").target_weights(ctx)
    direct = strategy_get("optimizer:min_volatility").target_weights(ctx)
    # then the min-volatility weights, 20 % held back in cash, explained with the regime
    assert result.details["chosen_strategy"] == "optimizer:min_volatility"
    assert sum(result.weights.values()) == pytest.approx(0.8, abs=1e-6)
    for symbol, weight in direct.weights.items():
        assert result.weights[symbol] == pytest.approx(0.8 * weight)
    assert result.explanation.startswith(
        "Market regime: bear (confidence 84%), changed since the previous trading day; the policy for a "
        "balanced portfolio in a bear market is minimum volatility, holding 20% in cash."
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


def test_hybrid_without_an_agent_says_so(ctx, monkeypatch):
    monkeypatch.delitem(registry._REGISTRY, "agent:ppo", raising=False)
    with pytest.raises(StrategyError, match="needs the agent 'agent:ppo', which is not registered yet"):
        strategy_get("hybrid").target_weights(ctx)


def test_hybrid_with_a_registered_stand_in_agent(ctx, monkeypatch):
    # given a stand-in policy registered as the PPO agent
    class StandIn:
        name = "agent:ppo"

        def target_weights(self, c):
            return StrategyResult({"AAA": 0.4, "BBB": 0.3, "CCC": 0.0, "DDD": 0.3}, 0.7, "stand-in", self.name)

    monkeypatch.setitem(registry._REGISTRY, "agent:ppo", StandIn)
    # when
    result = strategy_get("hybrid").target_weights(ctx)
    # then
    assert result.strategy == "hybrid"
    assert sum(result.weights.values()) == pytest.approx(1.0)
    assert result.weights["CCC"] < result.weights["AAA"]
    assert result.details["adjustment"]["CCC"] == -1.0
    assert 0.0 <= result.confidence <= 1.0
