"""The hybrid strategy: indicators, the blend, confidence as agreement, a stand-in agent."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from mlagents.regime.engine.hybrid import (
    HybridStrategy,
    agent_adjustment,
    hybrid_blend,
    technical_signals,
)
from portfolios.strategies import StrategyContext, StrategyError

SYMBOLS = ("UP", "DOWN", "FLAT")


@pytest.fixture
def returns() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 120
    return pd.DataFrame(
        {
            "UP": 0.004 + 0.005 * rng.standard_normal(n),
            "DOWN": -0.004 + 0.005 * rng.standard_normal(n),
            "FLAT": 0.005 * rng.standard_normal(n),
        },
        index=pd.bdate_range("2024-01-01", periods=n),
    )


def test_signals_are_bounded_and_point_the_right_way(returns):
    signals = technical_signals(returns)
    assert ((signals >= -1) & (signals <= 1)).all().all()
    assert signals.loc["UP", "momentum"] > 0.9 and signals.loc["DOWN", "momentum"] < -0.9
    assert signals.loc["UP", "rsi"] > 0 > signals.loc["DOWN", "rsi"]
    assert signals.loc["UP", "signal"] > signals.loc["FLAT", "signal"] > signals.loc["DOWN", "signal"]
    np.testing.assert_allclose(signals["signal"], signals[["momentum", "rsi", "macd"]].mean(axis=1))


def test_rsi_of_a_steady_rise_is_one():
    rising = pd.DataFrame({"X": [0.01] * 80})
    assert technical_signals(rising).loc["X", "rsi"] == 1.0


def test_signals_use_only_the_rows_given(returns):
    cut = technical_signals(returns.iloc[:100])
    again = technical_signals(returns.iloc[:100].copy())
    pd.testing.assert_frame_equal(cut, again)
    assert not cut.equals(technical_signals(returns))


def test_agent_adjustment_closed_form():
    adj = agent_adjustment({"UP": 0.6, "DOWN": 0.0, "FLAT": 0.2}, SYMBOLS)
    e = 1 / 3
    w = np.array([0.6, 0.0, 0.2]) / 0.8
    np.testing.assert_allclose(adj.to_numpy(), (w - e) / (w + e))
    assert adj["DOWN"] == -1.0


def test_blend_weights_and_confidence_closed_form():
    signal = pd.Series([1.0, -1.0, 0.0], index=list(SYMBOLS))
    adjustment = pd.Series([0.5, -0.5, 0.0], index=list(SYMBOLS))
    weights, blend, confidence = hybrid_blend(signal, adjustment, alpha=0.5, invested=0.9)
    np.testing.assert_allclose(blend.to_numpy(), [0.75, -0.75, 0.0])
    raw = np.array([1.75, 0.25, 1.0])
    np.testing.assert_allclose(weights.to_numpy(), raw / raw.sum() * 0.9)
    assert confidence == pytest.approx(1 - (0.5 + 0.5 + 0.0) / 2 / 3)


def test_full_agreement_is_full_confidence_and_opposite_is_none():
    s = pd.Series([1.0, -1.0], index=["A", "B"])
    assert hybrid_blend(s, s.copy(), 0.3)[2] == 1.0
    assert hybrid_blend(s, -s, 0.3)[2] == 0.0


def test_alpha_outside_unit_interval_is_refused():
    s = pd.Series([0.0], index=["A"])
    with pytest.raises(StrategyError, match="alpha must be within"):
        hybrid_blend(s, s, 1.5)


def test_hybrid_strategy_with_a_stand_in_policy(returns):
    # given a stand-in agent that likes UP and avoids DOWN, holding 10 % cash
    calls = []

    def stand_in(ctx):
        calls.append(ctx.as_of)
        return {"UP": 0.6, "DOWN": 0.0, "FLAT": 0.3}

    ctx = StrategyContext(as_of=dt.date(2024, 6, 14), symbols=SYMBOLS, returns=returns, current_weights={},
                          options={"hybrid_alpha": 0.4})
    # when
    result = HybridStrategy(stand_in, agent_name="stand-in").target_weights(ctx)
    # then the blend favours UP, keeps the agent's cash, and explains itself
    assert calls == [dt.date(2024, 6, 14)]
    assert sum(result.weights.values()) == pytest.approx(0.9)
    assert result.weights["UP"] > result.weights["FLAT"] > result.weights["DOWN"]
    assert result.details["alpha"] == 0.4
    signal = pd.Series({s: result.details["signals"][s]["signal"] for s in SYMBOLS})
    adjustment = pd.Series(result.details["adjustment"])
    assert result.confidence == pytest.approx(float((1 - (signal - adjustment).abs() / 2).mean()))
    assert result.explanation.startswith(
        "Hybrid of technical signals (momentum, RSI, MACD; weight 40%) and stand-in's adjustment"
    )


def test_hybrid_needs_enough_history(returns):
    ctx = StrategyContext(as_of=dt.date(2024, 2, 1), symbols=SYMBOLS, returns=returns.iloc[:20], current_weights={})
    with pytest.raises(StrategyError, match="need 63 days"):
        HybridStrategy(lambda c: {"UP": 1.0}).target_weights(ctx)
