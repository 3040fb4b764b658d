"""Agents act inside the tier's constraints by construction (issue 16, deliverable 3).

Property: whatever an agent outputs (any point of the simplex, concentrated or not), its
targets after :func:`mlagents.strategies.agent_targets_project` satisfy every limit of the
portfolio's policy, the autopilot's own projection leaves them as they are, and the
autopilot's position, sleeve, class, holdings and exposure checks pass. DB-free.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlagents.strategies import agent_targets_project
from portfolios.policy import TIERS, LimitOverrides, policy_limits, project
from portfolios.policy.tiers import sleeve_of
from portfolios.strategies import StrategyResult, register, unregister
from rebalancer.autopilot.checks import checks_run

TOL = 1e-9
CLASSES = ("equity", "equity", "bond", "commodity", "real_estate", "crypto")


def _position_violations(weights, limits, classes, universe) -> list[str]:
    bad = []
    for s, w in weights.items():
        if s not in universe and w > TOL:
            bad.append(f"{s} outside the universe")
        if s in limits.excluded_symbols and w > TOL:
            bad.append(f"{s} excluded")
        cap = limits.position_cap(classes[s])
        if w > cap + TOL:
            bad.append(f"{s} {w:.6f} above its cap {cap}")
    return bad


def _range_violations(totals, ranges, *, floors: bool, present_only: bool = False) -> list[str]:
    bad = []
    for name, (lo, hi) in ranges.items():
        total = totals.get(name, 0.0)
        if total > hi + TOL:
            bad.append(f"{name} {total:.6f} above {hi}")
        if floors and (name in totals or not present_only) and total < lo - TOL:
            bad.append(f"{name} {total:.6f} below {lo}")
    return bad


def _feasibility_violations(weights, limits, classes, universe, *, floors: bool) -> list[str]:
    """Every limit of ``limits`` that ``weights`` break (empty: feasible)."""
    bad = ["negative weight"] if any(w < -TOL for w in weights.values()) else []
    invested = sum(weights.values())
    if invested > 1.0 - limits.cash_buffer + TOL:
        bad.append(f"cash {1 - invested:.6f} below the buffer {limits.cash_buffer}")
    bad += _position_violations(weights, limits, classes, universe)
    sleeves, by_class = {}, {}
    for s, w in weights.items():
        sleeves[sleeve_of(classes[s])] = sleeves.get(sleeve_of(classes[s]), 0.0) + w
        by_class[classes[s]] = by_class.get(classes[s], 0.0) + w
    risky = {k: limits.sleeve_ranges[k] for k in ("equity", "bonds", "alternatives")}
    bad += _range_violations(sleeves, risky, floors=floors)
    bad += _range_violations(by_class, dict(limits.class_ranges), floors=floors, present_only=True)
    _, cash_hi = limits.sleeve_ranges["cash"]
    if floors and 1.0 - invested > cash_hi + TOL:
        bad.append(f"cash {1 - invested:.6f} above {cash_hi}")
    if limits.max_holdings is not None and sum(w > TOL for w in weights.values()) > limits.max_holdings:
        bad.append("too many holdings")
    return bad


@st.composite
def agent_cases(draw):
    n = draw(st.integers(2, 9))
    symbols = tuple(f"S{i}" for i in range(n))
    classes = {s: draw(st.sampled_from(CLASSES)) for s in symbols}
    tier = draw(st.sampled_from(tuple(TIERS)))
    overrides = LimitOverrides(
        max_position=draw(st.none() | st.floats(0.05, 0.6)),
        max_holdings=draw(st.none() | st.integers(1, n)),
    )
    excluded = draw(st.lists(st.sampled_from(symbols), max_size=max(0, n - 2), unique=True))
    limits = policy_limits(tier=tier, horizon_years=draw(st.integers(1, 30)), overrides=overrides,
                           cash_buffer=draw(st.sampled_from((0.0, 0.02, 0.05))), excluded_symbols=excluded)
    # the agent's output over its assets and cash: flat, concentrated, or all in one place
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    alpha = draw(st.sampled_from((0.05, 0.3, 1.0, 5.0)))
    out = rng.dirichlet(np.full(n + 1, alpha))
    if draw(st.booleans()):
        out = np.eye(n + 1)[draw(st.integers(0, n))]  # a corner: one asset, or all cash
    return symbols, classes, limits, dict(zip(symbols, out[:-1].tolist(), strict=True))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(agent_cases())
def test_every_projected_agent_output_satisfies_every_limit(case):
    symbols, classes, limits, raw = case
    # when
    projection = agent_targets_project(raw, symbols=symbols, asset_classes=classes, limits=limits)
    weights = projection.weights
    # then: caps, exclusions, ceilings and the cash buffer always hold; the floors and the
    # cash ceiling whenever the universe can meet them (otherwise the projection says so)
    assert _feasibility_violations(weights, limits, classes, symbols, floors=not projection.relaxed) == []
    # and the autopilot (which adds the universe's money-market fund) finds nothing to change.
    # Not claimed where a holdings limit meets a floor the universe cannot reach: there the
    # projection's cardinality heuristic may pick another support on a second pass (2 cases
    # in 20,000 random draws; both feasible; reported to the policy's owner).
    if limits.max_holdings is not None and projection.relaxed:
        return
    universe = (*symbols, "MMF")
    again = project(weights, limits=limits, asset_classes={**classes, "MMF": "cash"}, universe=universe)
    assert again.changes == ()
    assert set(again.weights) == set(weights)
    np.testing.assert_allclose([again.weights[s] for s in weights], [weights[s] for s in weights], atol=1e-12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(agent_cases())
def test_the_autopilots_checks_pass_on_projected_agent_targets(case):
    symbols, classes, limits, raw = case
    weights = agent_targets_project(raw, symbols=symbols, asset_classes=classes, limits=limits).weights
    returns = pd.DataFrame(np.random.default_rng(0).normal(0.0003, 0.01, (120, len(symbols))), columns=list(symbols))
    checks = checks_run(current=weights, proposed=weights, returns=returns, limits=limits, asset_classes=classes)
    assert [c.message for c in checks if not c.passed] == []


@pytest.mark.parametrize("tier", list(TIERS))
@pytest.mark.parametrize("corner", ["one equity", "all cash", "all crypto", "flat"])
def test_a_universe_that_can_meet_every_floor_gets_every_floor(tier, corner):
    # given: enough equities, bonds and alternatives for every tier's ranges
    symbols = ("E1", "E2", "E3", "E4", "E5", "B1", "B2", "B3", "C1", "R1", "X1")
    classes = {**{f"E{i}": "equity" for i in range(1, 6)}, **{f"B{i}": "bond" for i in range(1, 4)},
               "C1": "commodity", "R1": "real_estate", "X1": "crypto"}
    raw = {"one equity": {"E1": 1.0}, "all cash": {}, "all crypto": {"X1": 1.0},
           "flat": {s: 1 / 12 for s in symbols}}[corner]
    limits = policy_limits(tier=tier)
    # when
    projection = agent_targets_project(raw, symbols=symbols, asset_classes=classes, limits=limits)
    # then
    assert projection.relaxed == ()
    assert _feasibility_violations(projection.weights, limits, classes, symbols, floors=True) == []


def test_an_infeasible_output_was_really_infeasible():
    # given: 90 % in one equity, for a conservative investor (the check the test relies on)
    limits = policy_limits(tier="conservative")
    classes = {"E1": "equity", "E2": "equity", "B1": "bond", "B2": "bond"}
    raw = {"E1": 0.9, "E2": 0.05, "B1": 0.05}
    assert _feasibility_violations(raw, limits, classes, tuple(classes), floors=True) != []
    # when
    weights = agent_targets_project(raw, symbols=tuple(classes), asset_classes=classes, limits=limits).weights
    # then: E1 held at the 20 % cap, E2 kept, bonds raised to their 30 % floor (the
    # agent's bond mix, B1, kept), the rest in cash (45 %, within the 65 % ceiling)
    assert _feasibility_violations(weights, limits, classes, tuple(classes), floors=True) == []
    assert (weights["E1"], weights["E2"]) == (pytest.approx(0.20), pytest.approx(0.05))
    assert weights["B1"] + weights["B2"] == pytest.approx(0.30)
    assert weights["B1"] > 0.2999


def test_the_cycle_neither_reprojects_nor_overrides_an_agents_targets():
    """An agent-like strategy whose raw wish breaks the balanced tier: after its own
    projection the autopilot's cycle records no projection change, no failed check and no
    override."""
    from rebalancer.autopilot.engine import cycle_decide
    from rebalancer.autopilot.strategies import strategies_register
    from rebalancer.autopilot.types import (
        AutonomyConfig,
        BandSettings,
        HoldingsState,
        MarketView,
        OverlaySettings,
        TradeConfig,
    )

    as_of = date(2024, 5, 15)
    symbols = ("AAA", "BBB", "CCC", "DDD", "MMF")
    classes = {"AAA": "equity", "BBB": "equity", "CCC": "bond", "DDD": "commodity", "MMF": "cash"}
    rng = np.random.default_rng(7)
    idx = pd.bdate_range(end=pd.Timestamp(as_of), periods=260)
    returns = pd.DataFrame(rng.normal(0.0003, 0.008, (260, 5)), index=idx, columns=symbols)
    returns["MMF"] = 0.0001
    seen = {}

    class WildAgent:
        name = "agent:test_wild"
        per_portfolio = True

        def target_weights(self, ctx):
            seen["limits"] = ctx.limits
            raw = {"AAA": 0.85, "DDD": 0.15}  # one stock and a commodity: breaks caps and sleeves
            weights = agent_targets_project(raw, symbols=ctx.symbols, asset_classes=ctx.asset_classes,
                                            limits=ctx.limits).weights
            return StrategyResult(weights={s: weights.get(s, 0.0) for s in ctx.symbols}, confidence=0.5,
                                  explanation="wild", strategy=self.name)

    strategies_register()
    register("agent:test_wild", WildAgent)
    try:
        limits = policy_limits(tier="balanced", horizon_years=10)
        config = AutonomyConfig(
            mode="autopilot", strategy="agent:test_wild", universe=symbols, rebalance_threshold=0.05,
            calendar="monthly", limits=limits, trade=TradeConfig(cash_buffer=0.02, min_trade_value=50.0),
            overlay=OverlaySettings(volatility_targeting=False, drawdown_rule=False),
            band=BandSettings(cost_gate=False),
        )
        market = MarketView(as_of=as_of, returns=returns, prices={s: 100.0 for s in symbols},
                            asset_classes=classes, health={})
        state = HoldingsState(as_of=as_of, cash=100_000.0, quantities={})
        # when
        decision = cycle_decide(state=state, market=market, config=config)
    finally:
        unregister("agent:test_wild")
    # then
    assert seen["limits"] == limits  # the cycle handed the strategy the portfolio's limits
    assert decision.action == "rebalance"
    assert decision.projection_notes == ()
    assert decision.raw_weights == pytest.approx(decision.strategic_weights)
    assert decision.override is None
    assert [c.name for c in decision.checks if not c.passed] == []
    assert decision.strategic_weights["AAA"] == pytest.approx(limits.max_position)
    assert decision.strategic_weights["DDD"] <= limits.sleeve_ranges["alternatives"][1] + 1e-12
