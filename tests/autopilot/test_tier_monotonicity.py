"""Risk tiers mean what they say: for every strategy, more risk tolerance never means less risk.

A property test over random markets (hypothesis): for each strategy the autopilot offers
(agents aside: they have their own tests), a fresh portfolio's ex-ante volatility (the
risk overlay's forecast of its final targets) and its share in risky assets never fall
from one tier to the next; and a replay through a synthetic year shows the same order for
the volatility the portfolios realise.

Two precisions the property test found: the *equity* share alone is not monotone —
alternatives (real estate, commodities) are risky too and an optimizer may hold more of
them in the higher tier's wider alternatives sleeve, so the risky share (equity +
alternatives) is what rises; and two tiers whose targets both sit below their volatility
targets may end within a hair of each other when the higher tier's optimizer finds a more
diversified risky mix, so volatility may not fall by more than half a point.
"""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from portfolios.policy import policy_limits
from portfolios.policy.tiers import TIER_NAMES, sleeve_of
from portfolios.strategies import RegimeState
from rebalancer.autopilot.engine import cycle_decide
from rebalancer.autopilot.types import AutonomyConfig, HoldingsState, MarketView, TradeConfig
from rebalancer.backtests.engine.replay import ReplaySpec, replay
from rebalancer.backtests.evaluation import strategies_register_pure

CLASSES = {"EQ1": "equity", "EQ2": "equity", "EQ3": "equity", "EQ4": "equity", "BD1": "bond", "BD2": "bond",
           "GLD": "commodity", "REI": "real_estate", "MMK": "cash"}
SYMBOLS = tuple(CLASSES)
STRATEGIES = ("equal_weight", "optimizer:min_volatility", "optimizer:max_sharpe", "optimizer:risk_parity",
              "optimizer:hrp", "optimizer:min_cvar", "optimizer:max_utility", "regime_adaptive")
ANNUAL_VOL = {"equity": (0.15, 0.35), "bond": (0.03, 0.08), "commodity": (0.12, 0.25), "real_estate": (0.15, 0.25),
              "cash": (0.003, 0.006)}


@pytest.fixture(autouse=True)
def _strategies():
    strategies_register_pure()


def random_returns(seed: int, days: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    market = rng.standard_normal(days) * 0.01
    columns = {}
    for s, cls in CLASSES.items():
        lo, hi = ANNUAL_VOL[cls]
        vol = rng.uniform(lo, hi) / np.sqrt(252)
        beta = {"equity": 1.0, "real_estate": 0.8, "commodity": 0.3, "bond": -0.2, "cash": 0.0}[cls]
        share = 0.5 if cls != "cash" else 0.0
        columns[s] = (rng.uniform(-0.0002, 0.0006) + vol * (np.sqrt(share) * beta * market / 0.01
                                                            + np.sqrt(1 - share) * rng.standard_normal(days)))
    return pd.DataFrame(columns, index=pd.bdate_range("2019-01-01", periods=days))


def decide(strategy: str, tier: str, returns: pd.DataFrame, regime: RegimeState):
    as_of = returns.index[-1].date()
    config = AutonomyConfig(mode="autopilot", strategy=strategy, risk_tier=tier, universe=SYMBOLS,
                            calendar="monthly", limits=policy_limits(tier=tier), trade=TradeConfig())
    market = MarketView(as_of=as_of, returns=returns, prices=dict.fromkeys(SYMBOLS, 100.0), asset_classes=CLASSES)
    return cycle_decide(state=HoldingsState(as_of=as_of, cash=100_000.0, quantities={}), market=market,
                        config=config, regime=regime)


def risky_share(weights) -> float:
    return sum(w for s, w in weights.items() if sleeve_of(CLASSES[s]) in ("equity", "alternatives"))


VOL_SLACK = 0.005


# Derandomized so CI is deterministic; seeds 0-399 in every regime were searched by hand. Seed 27
# is the counterexample random runs once found: the overlay held an aggressive portfolio at 71 %, the
# idle-cash sweep filled the money-market fund past the tier's 25 % cash ceiling, and the position
# check then sent it to the defensive allocation (risky share 0.40 against growth's 0.63).
@settings(max_examples=6, deadline=None, derandomize=True)
@given(seed=st.integers(0, 100_000), regime=st.sampled_from(["bull", "bear", "sideways"]))
@example(seed=27, regime="bull")
def test_ex_ante_volatility_and_risky_share_rise_with_the_tier_for_every_strategy(seed, regime):
    returns = random_returns(seed)
    state = RegimeState(regime=regime, confidence=0.9)
    for strategy in STRATEGIES:
        vols, equities = [], []
        for tier in TIER_NAMES:
            decision = decide(strategy, tier, returns, state)
            assert decision.action == "rebalance", (strategy, tier, decision.skipped_reason)
            assert decision.override is None, (strategy, tier, decision.override)
            vols.append(decision.overlay.final_volatility)
            equities.append(risky_share(decision.target_weights))
        assert all(b >= a - VOL_SLACK for a, b in itertools.pairwise(vols)), (strategy, vols)
        assert all(b >= a - 1e-6 for a, b in itertools.pairwise(equities)), (strategy, equities)


@pytest.mark.parametrize("strategy", ["equal_weight", "optimizer:risk_parity", "optimizer:min_volatility"])
def test_realised_volatility_rises_with_the_tier(strategy):
    # given a year of a random market after a year of history
    returns = random_returns(17, days=520)
    prices = 100.0 * (1.0 + returns).cumprod()
    realised = []
    for tier in ("conservative", "balanced", "aggressive"):
        config = AutonomyConfig(mode="autopilot", strategy=strategy, risk_tier=tier, universe=SYMBOLS,
                                calendar="monthly", limits=policy_limits(tier=tier), trade=TradeConfig())
        result = replay(prices.round(6), ReplaySpec(initial_cash=Decimal("100000"), autonomy=config,
                                                    asset_classes=CLASSES), start=date(2020, 1, 1))
        daily = np.diff(result.equity) / result.equity[:-1]
        realised.append(float(np.std(daily) * np.sqrt(252)))
    assert realised == sorted(realised), realised
