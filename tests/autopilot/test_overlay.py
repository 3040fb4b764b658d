"""The risk overlay: volatility targeting with a band, one de-risk per drawdown episode, a VaR cap."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from portfolios.policy import LimitOverrides, policy_limits
from rebalancer.autopilot.overlay import overlay_apply, performance_track
from rebalancer.autopilot.strategies import strategies_register
from rebalancer.autopilot.types import AutonomyConfig, OverlaySettings, OverlayState, TradeConfig
from rebalancer.backtests.engine.replay import ReplaySpec, replay

CLASSES = {"E1": "equity", "E2": "equity", "E3": "equity", "B1": "bond", "B2": "bond"}
SYMBOLS = tuple(CLASSES)


@pytest.fixture(autouse=True)
def _strategies():
    strategies_register()


def scripted_crash(seed: int = 5) -> tuple[pd.DataFrame, int, int]:
    """Calm rise, a 50 % equity crash in 25 days with high volatility, a recovery, calm again."""
    rng = np.random.default_rng(seed)
    calm, crash, recovery, after = 400, 25, 120, 200
    drift = np.concatenate([np.full(calm, 0.0004), np.full(crash, -0.027), np.full(recovery, 0.0055),
                            np.full(after, 0.0004)])
    vol = np.concatenate([np.full(calm, 0.006), np.full(crash, 0.03), np.full(recovery, 0.012),
                          np.full(after, 0.006)])
    market = drift + vol * rng.standard_normal(len(drift))
    equity = market[:, None] + 0.004 * rng.standard_normal((len(drift), 3))
    bonds = 0.0001 + 0.002 * rng.standard_normal((len(drift), 2))
    returns = np.hstack([equity, bonds])
    prices = 100.0 * np.cumprod(1.0 + returns, axis=0)
    index = pd.bdate_range("2010-01-04", periods=len(drift))
    return pd.DataFrame(prices.round(6), index=index, columns=list(SYMBOLS)), calm, calm + crash


def config(**overrides) -> AutonomyConfig:
    base = dict(
        mode="autopilot", strategy="equal_weight", risk_tier="balanced", universe=SYMBOLS, calendar="monthly",
        limits=policy_limits(tier="balanced"), trade=TradeConfig(),
    )
    base.update(overrides)
    return AutonomyConfig(**base)


def test_a_drawdown_breach_derisks_once_and_reenters_once_on_the_recovery():
    # given a balanced equal-weight portfolio through a scripted 50 % equity crash and recovery,
    # with volatility targeting and the VaR cap off so that the drawdown rule alone acts
    prices, crash_start, crash_end = scripted_crash()
    limits = policy_limits(tier="balanced", overrides=LimitOverrides(max_var_95=1.0))
    spec = ReplaySpec(initial_cash=Decimal("100000"), asset_classes=CLASSES,
                      autonomy=config(limits=limits, overlay=OverlaySettings(volatility_targeting=False)))
    # when the production pipeline is replayed day by day
    result = replay(prices, spec, start=prices.index[260].date())
    # then the overlay moved exactly twice: out once, back in once
    events = Counter(e for d in result.decisions for e in d.overlay_events)
    assert events["derisk"] == 1 and events["reenter"] == 1
    days = list(prices.index.date)
    derisk = days.index(next(d.as_of for d in result.decisions if "derisk" in d.overlay_events))
    reenter = days.index(next(d.as_of for d in result.decisions if "reenter" in d.overlay_events))
    assert crash_start < derisk <= crash_end + 5
    # re-entry follows the recovery of the signal, long before a 252-day window forgets the crash
    assert 21 <= reenter - derisk < 120
    exposure = pd.Series(result.exposure, index=result.dates)
    assert exposure.iloc[derisk - 260] < 0.8 and exposure.iloc[reenter - 260] == pytest.approx(1.0)
    # and no daily re-trading between: trades on few days of the crash and the recovery
    trades = [d for d in result.decisions if d.trades and crash_start <= days.index(d.as_of) <= crash_end + 120]
    assert len(trades) <= 8


def test_the_default_overlay_cuts_exposure_in_the_crash_and_restores_it_without_daily_trading():
    # given the same crash with the default overlay (volatility targeting on)
    prices, crash_start, crash_end = scripted_crash()
    spec = ReplaySpec(initial_cash=Decimal("100000"), autonomy=config(), asset_classes=CLASSES)
    # when
    result = replay(prices, spec, start=prices.index[260].date())
    # then exposure is cut during the crash and back to full after the calm returns
    exposure = pd.Series(result.exposure, index=result.dates)
    days = list(prices.index.date)
    assert exposure.iloc[crash_end - 260 + 5] < 0.8
    assert exposure.iloc[-1] > 0.9
    trades = [d for d in result.decisions if d.trades and crash_start <= days.index(d.as_of) <= crash_end + 120]
    assert len(trades) <= 10
    # and the portfolio fell less than the same strategy without the overlay
    bare = replay(prices, replace(spec, autonomy=config(overlay=OverlaySettings(volatility_targeting=False,
                                                                              drawdown_rule=False))),
                  start=prices.index[260].date())

    def max_drawdown(values) -> float:
        s = pd.Series(values)
        return float((1 - s / s.cummax()).max())

    assert max_drawdown(result.equity) < max_drawdown(bare.equity)


def _moments_case(vol: float, n: int = 300, bond_vol: float = 0.002):
    rng = np.random.default_rng(1)
    returns = rng.standard_normal((n, 3)) * [vol, vol, bond_vol]
    return returns, ("E1", "E2", "B1"), {"E1": "equity", "E2": "equity", "B1": "bond"}


def test_volatility_targeting_scales_the_risky_sleeve_to_the_target_and_keeps_a_band():
    # given two independent equities of 35 % annual volatility (2.2 % a day) for a balanced investor
    # (target 10 %): the 60 % sleeve forecasts about 15 %
    returns, symbols, classes = _moments_case(0.022)
    limits = policy_limits(tier="balanced")
    targets = {"E1": 0.3, "E2": 0.3, "B1": 0.38}
    settings = OverlaySettings(drawdown_rule=False)
    # when
    first = overlay_apply(targets=targets, returns=returns, symbols=symbols, asset_classes=classes,
                          limits=limits, settings=settings, state=OverlayState(), as_of=date(2020, 1, 2))
    # then only the risky sleeve is scaled, bonds are untouched, and the floor (40 % equity) holds
    m = first.record.multiplier
    assert first.record.events == ("exposure",)
    assert first.weights["B1"] == pytest.approx(0.38)
    assert first.weights["E1"] == pytest.approx(0.3 * m)
    assert 0.6 * m >= 0.40 - 1e-9
    # when the forecast moves a little (inside the 10-point band) the multiplier stays
    again = overlay_apply(targets=targets, returns=returns * 1.05, symbols=symbols, asset_classes=classes,
                          limits=limits, settings=settings, state=first.state, as_of=date(2020, 1, 3))
    assert again.record.events == () and again.record.multiplier == pytest.approx(m)


def test_calm_markets_keep_the_full_allocation():
    returns, symbols, classes = _moments_case(0.004)
    result = overlay_apply(targets={"E1": 0.35, "E2": 0.35, "B1": 0.28}, returns=returns, symbols=symbols,
                           asset_classes=classes, limits=policy_limits(tier="balanced"), settings=OverlaySettings(),
                           state=OverlayState(), as_of=date(2020, 1, 2))
    assert result.record.multiplier == 1.0 and result.record.events == ()


def test_the_var_cap_goes_below_the_floors_when_it_must():
    # given a VaR so high that even the 40 % equity floor breaches the 1.6 % limit
    returns, symbols, classes = _moments_case(0.06)
    result = overlay_apply(targets={"E1": 0.35, "E2": 0.35, "B1": 0.28}, returns=returns, symbols=symbols,
                           asset_classes=classes, limits=policy_limits(tier="balanced"),
                           settings=OverlaySettings(volatility_targeting=False, drawdown_rule=False),
                           state=OverlayState(), as_of=date(2020, 1, 2))
    assert "var_cap" in result.record.events
    assert result.record.var_forecast <= policy_limits(tier="balanced").max_var_95 + 1e-12
    assert result.weights["E1"] + result.weights["E2"] < 0.40


def test_the_performance_index_ignores_deposits_and_withdrawals():
    state = performance_track(OverlayState(), total_value=100_000.0, net_flows=0.0)
    state = performance_track(state, total_value=150_000.0, net_flows=50_000.0)  # a deposit, no gain
    assert state.index == pytest.approx(1.0)
    state = performance_track(state, total_value=100_000.0, net_flows=-50_000.0)  # a withdrawal, no loss
    assert state.index == pytest.approx(1.0) and state.peak == pytest.approx(1.0)
    state = performance_track(state, total_value=90_000.0, net_flows=0.0)
    assert 1.0 - state.index / state.peak == pytest.approx(0.10)
