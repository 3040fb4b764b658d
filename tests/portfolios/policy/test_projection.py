"""The projection onto a portfolio's limits: exact against cvxpy, feasible for any input."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portfolios.policy import TIERS, LimitOverrides, policy_limits, project
from portfolios.policy.projection import ProjectionError, effective_ranges
from portfolios.policy.tiers import sleeve_of

CLASS_POOL = ["equity"] * 6 + ["bond"] * 3 + ["commodity", "real_estate", "crypto", "cash"]


def reference(raw, limits, classes, symbols, frozen) -> np.ndarray:
    """The same problem solved by cvxpy (Clarabel, tight tolerances)."""
    n = len(symbols)
    x = cp.Variable(n)
    v = np.array([raw.get(s, 0.0) for s in symbols])
    cons = [x >= 0, cp.sum(x) <= 1 - limits.cash_buffer]
    for i, s in enumerate(symbols):
        if s in frozen:
            cons.append(x[i] == frozen[s])
        elif s in limits.excluded_symbols:
            cons.append(x[i] == 0)
        else:
            cons.append(x[i] <= limits.position_cap(classes[s]))
    noncash = [i for i, s in enumerate(symbols) if sleeve_of(classes[s]) != "cash"]
    lo, hi = limits.sleeve_ranges["cash"]
    if noncash:
        cons += [cp.sum(x[noncash]) >= 1 - hi, cp.sum(x[noncash]) <= 1 - lo]
    for sleeve in ("equity", "bonds", "alternatives"):
        idx = [i for i, s in enumerate(symbols) if sleeve_of(classes[s]) == sleeve]
        lo, hi = limits.sleeve_ranges[sleeve]
        if idx:
            cons += [cp.sum(x[idx]) >= lo, cp.sum(x[idx]) <= hi]
    for cls, (lo, hi) in limits.class_ranges.items():
        idx = [i for i, s in enumerate(symbols) if classes[s] == cls]
        if idx:
            cons += [cp.sum(x[idx]) >= lo, cp.sum(x[idx]) <= hi]
    cp.Problem(cp.Minimize(cp.sum(cp.multiply(1 / (v + 1e-6), cp.square(x - v)))), cons).solve(
        solver="CLARABEL", tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-11
    )
    return np.asarray(x.value)


def random_case(rng):
    n = int(rng.integers(3, 22))
    symbols = [f"S{i:02d}" for i in range(n)]
    classes = {s: CLASS_POOL[int(rng.integers(len(CLASS_POOL)))] for s in symbols}
    classes[symbols[0]], classes[symbols[1]], classes[symbols[2]] = "equity", "bond", "equity"
    tier = list(TIERS)[int(rng.integers(len(TIERS)))]
    limits = policy_limits(tier=tier, horizon_years=float(rng.integers(1, 30)), cash_buffer=0.02)
    raw = rng.dirichlet(np.ones(n) * float(rng.choice([0.3, 1.0, 4.0]))) * float(rng.uniform(0.6, 1.0))
    return symbols, classes, limits, dict(zip(symbols, raw, strict=True))


def test_projection_equals_a_cvxpy_solve_of_the_same_problem():
    # given 60 random universes, tiers, horizons and raw weights whose limits are attainable
    rng = np.random.default_rng(3)
    worst, compared = 0.0, 0
    for _ in range(60):
        symbols, classes, limits, raw = random_case(rng)
        # when
        projected = project(raw, limits=limits, asset_classes=classes, universe=symbols)
        if projected.relaxed:
            continue
        expected = reference(raw, limits, classes, symbols, {})
        got = np.array([projected.weights.get(s, 0.0) for s in symbols])
        worst = max(worst, float(np.abs(got - expected).max()))
        compared += 1
    # then
    assert compared >= 40
    assert worst < 1e-6


def _satisfies(weights, limits, classes, universe) -> list[str]:
    bad = []
    if sum(weights.values()) > 1 - limits.cash_buffer + 1e-9:
        bad.append("buffer")
    for s, w in weights.items():
        if w < -1e-12 or w > limits.position_cap(classes[s]) + 1e-9 or s not in universe \
                or s in limits.excluded_symbols:
            bad.append(s)
    ranges = {s: (0.0, 0.0) for s in ("equity", "bonds", "alternatives")}
    for s, w in weights.items():
        sl = sleeve_of(classes[s])
        if sl != "cash":
            ranges[sl] = (ranges[sl][0] + w, 0.0)
    for sleeve, (total, _) in ranges.items():
        if total > limits.sleeve_ranges[sleeve][1] + 1e-9:
            bad.append(sleeve)
    for cls, (_, hi) in limits.class_ranges.items():
        if sum(w for s, w in weights.items() if classes[s] == cls) > hi + 1e-9:
            bad.append(cls)
    if limits.max_holdings is not None and len(weights) > limits.max_holdings:
        bad.append("holdings")
    return bad


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    max_holdings=st.one_of(st.none(), st.integers(1, 8)),
    excluded=st.integers(0, 3),
    scale=st.floats(0.0, 3.0),
)
def test_every_projection_satisfies_every_limit(seed, max_holdings, excluded, scale):
    # given any raw weights (even summing to 3 or to 0), exclusions and a holdings cap
    rng = np.random.default_rng(seed)
    symbols, classes, limits, raw = random_case(rng)
    limits = policy_limits(tier=limits.tier, overrides=LimitOverrides(max_holdings=max_holdings),
                           excluded_symbols=symbols[-excluded:] if excluded else ())
    raw = {s: w * scale for s, w in raw.items()}
    # when
    projected = project(raw, limits=limits, asset_classes=classes, universe=symbols)
    # then every cap, exclusion and the buffer hold (floors may be relaxed, and say so)
    assert _satisfies(projected.weights, limits, classes, set(symbols)) == []


def test_a_feasible_target_comes_back_unchanged():
    # given targets already within every balanced limit
    classes = {"A": "equity", "B": "equity", "C": "bond", "D": "bond"}
    raw = {"A": 0.25, "B": 0.2, "C": 0.25, "D": 0.25}
    # when
    projected = project(raw, limits=policy_limits(tier="balanced"), asset_classes=classes, universe=list(classes))
    # then
    assert projected.weights == pytest.approx(raw)
    assert projected.changes == () and projected.relaxed == ()


def test_an_overweight_sleeve_shrinks_proportionally_and_says_why():
    # given an all-equity 100 % target for a conservative investor (equity at most 35 %)
    classes = {"A": "equity", "B": "equity", "E": "equity", "F": "equity", "C": "bond", "D": "bond"}
    raw = {"A": 0.4, "B": 0.3, "E": 0.2, "F": 0.1}
    # when
    projected = project(raw, limits=policy_limits(tier="conservative"), asset_classes=classes,
                        universe=list(classes))
    # then equity is cut to 35 % keeping its 4:3:2:1 mix; bonds get their 30 % floor, equally
    w = projected.weights
    assert w["A"] + w["B"] + w["E"] + w["F"] == pytest.approx(0.35, abs=1e-9)
    assert [w[s] / w["F"] for s in "ABE"] == pytest.approx([4.0, 3.0, 2.0], rel=1e-4)
    assert w["C"] == pytest.approx(w["D"]) and w["C"] + w["D"] == pytest.approx(0.30, abs=1e-9)
    assert any("equity lowered" in c for c in projected.changes)
    assert any("bonds raised" in c for c in projected.changes)


def test_a_floor_the_universe_cannot_meet_is_relaxed_into_cash():
    # given a balanced tier (bonds at least 10 %) and a universe of equities only
    classes = {f"E{i}": "equity" for i in range(10)}
    # when
    projected = project(dict.fromkeys(classes, 0.1), limits=policy_limits(tier="balanced"),
                        asset_classes=classes, universe=list(classes))
    # then equities are held at their 70 % ceiling, the rest stays in cash, and it is said
    assert sum(projected.weights.values()) == pytest.approx(0.70, abs=1e-9)
    assert any("bonds sleeve can hold at most 0.0%" in r for r in projected.relaxed)


def test_frozen_holdings_keep_their_weight_and_the_rest_adapts():
    classes = {"A": "equity", "B": "equity", "C": "bond"}
    projected = project({"A": 0.5, "B": 0.2, "C": 0.28}, limits=policy_limits(tier="balanced"),
                        asset_classes=classes, universe=["B", "C"], frozen={"A": 0.4})
    assert projected.weights["A"] == pytest.approx(0.4)
    assert projected.weights["B"] <= 0.7 - 0.4 + 1e-9


def test_max_holdings_keeps_the_largest_and_one_per_required_sleeve():
    # given 6 equities and 2 bonds, at most 3 holdings, balanced (bonds at least 10 %)
    classes = {**{f"E{i}": "equity" for i in range(6)}, "B0": "bond", "B1": "bond"}
    raw = {"E0": 0.3, "E1": 0.2, "E2": 0.15, "E3": 0.1, "E4": 0.1, "E5": 0.05, "B0": 0.06, "B1": 0.02}
    limits = policy_limits(tier="balanced", overrides=LimitOverrides(max_holdings=3))
    # when
    projected = project(raw, limits=limits, asset_classes=classes, universe=list(classes))
    # then
    assert set(projected.weights) == {"E0", "E1", "B0"}
    assert projected.weights["B0"] >= 0.10 - 1e-9


def test_an_empty_universe_cannot_be_projected():
    with pytest.raises(ProjectionError):
        project({}, limits=policy_limits(tier="balanced"), asset_classes={}, universe=[])


def test_effective_ranges_tell_an_optimizer_what_the_universe_can_hold():
    sleeves, classes, notes = effective_ranges(policy_limits(tier="growth"), ["A", "B"], {"A": "equity", "B": "crypto"})
    assert sleeves["bonds"] == (0.0, 0.0)
    assert sleeves["equity"] == (pytest.approx(0.30), pytest.approx(0.30))  # two assets x 30 % cap, one equity
    assert classes["crypto"][1] == pytest.approx(0.075)
    assert notes
