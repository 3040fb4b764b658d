"""The risk overlay: exposure control instead of a binary defensive switch (pure).

After the projection (:func:`portfolios.policy.project`) has made a strategy's targets
feasible, :func:`overlay_apply` decides how much of their **risky sleeve** (equity and
alternatives; bonds and cash are left alone) to hold today, as one multiplier ``M``:

1. **Volatility targeting.** The strategic targets' volatility is forecast by the risk
   engine's EWMA (:func:`risk.measures.volatility.ewma_weights`, halflife
   :attr:`OverlaySettings.halflife_days`) on the return window; ``M_vol`` is the
   multiplier that brings it down to the tier's volatility target (exactly: the EWMA
   variance of ``M r_risky + r_safe`` is a quadratic in ``M``), never above 1 (no
   leverage) and never below the tier's floor — ``min_exposure``, or what keeps each
   risky sleeve at its lowest weight. The multiplier in force changes only when the new
   one is more than :attr:`~OverlaySettings.exposure_band` away (hysteresis: no daily
   re-trading of forecast noise).
2. **A drawdown breach de-risks once.** When the portfolio's performance index (external
   flows removed) falls more than the tier's ``max_drawdown`` below its peak, the risky
   sleeve is cut to ``derisk_exposure`` (one half) of what targeting holds — once per
   *episode*. It re-risks once, after at least ``min_stay_days`` trading days, when the
   signal recovers: the strategy's own sleeve (its targets' index, which the overlay
   tracks day by day) has risen ``recovery_rise`` from its trough since the breach, or
   the portfolio has recovered half its limit. The episode — and with it the right to
   de-risk again — ends only when the portfolio is back within
   ``episode_end_drawdown`` of its peak, never because a look-back window forgot the
   crash. So a breach moves the overlay at most twice: out, then back in.
3. **VaR cap.** If the final targets' one-day 95 % VaR forecast (normal, from the same
   EWMA) is above the limit, ``M`` is lowered until it is not — below the sleeve floors
   if it must (a true breach; the explanation says so).

What the multiplier takes out of the risky sleeve stays in cash, which the cash trigger
knows is held on purpose. The kill switch is not part of the overlay (it is unchanged).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import NamedTuple

import numpy as np

from portfolios.policy import PolicyLimits
from portfolios.policy.tiers import RISKY_SLEEVES, sleeve_of
from rebalancer.autopilot.types import TRADING_DAYS, OverlayRecord, OverlaySettings, OverlayState
from risk.measures.volatility import ewma_weights

Z_95 = 1.6448536269514722
"""Standard normal 95 % quantile (one-day VaR of the forecast)."""
VAR_MARGIN = 0.20
"""A VaR breach cuts to 20 % below the cap, so the next days' noise does not breach it again."""


@dataclass(frozen=True)
class OverlayResult:
    weights: dict[str, float]
    record: OverlayRecord
    state: OverlayState


def performance_track(state: OverlayState, *, total_value: float, net_flows: float) -> OverlayState:
    """The performance index after today's value (deposits and withdrawals are not returns)."""
    if state.last_value is None or state.last_value <= 0:
        return replace(state, last_value=total_value)
    growth = (total_value - net_flows) / state.last_value
    if not math.isfinite(growth) or growth <= 0:
        growth = 1.0
    index = state.index * growth
    return replace(state, index=index, peak=max(state.peak, index), last_value=total_value)


def shadow_track(state: OverlayState, since_returns: np.ndarray, targets: np.ndarray) -> OverlayState:
    """The strategy sleeve's index after the returns since the last cycle (rows x symbols)."""
    if since_returns.size == 0 or targets.size == 0:
        return state
    level = state.shadow * float(np.prod(1.0 + since_returns @ targets))
    trough = state.trough if state.trough is None else min(state.trough, level)
    return replace(state, shadow=level, trough=trough)


def _moments(returns: np.ndarray, risky: np.ndarray, safe: np.ndarray, halflife: float) -> tuple[float, float, float]:
    """EWMA second moments (a, b, c) of the risky and safe daily returns: var(M) = a M^2 + 2 b M + c."""
    if returns.shape[0] < 2:
        return 0.0, 0.0, 0.0
    weights = ewma_weights(returns.shape[0], halflife)
    r_risky = returns @ risky
    r_safe = returns @ safe
    return (
        float(weights @ (r_risky * r_risky)),
        float(weights @ (r_risky * r_safe)),
        float(weights @ (r_safe * r_safe)),
    )


def _multiplier_for(daily_sigma: float, a: float, b: float, c: float) -> float:
    """The largest M >= 0 with a M^2 + 2 b M + c <= daily_sigma^2 (inf when any M works)."""
    target = daily_sigma * daily_sigma
    if a <= 1e-18:
        return math.inf
    disc = b * b - a * (c - target)
    if disc < 0:
        return 0.0
    return max(0.0, (-b + math.sqrt(disc)) / a)


class _DrawdownState(NamedTuple):
    """The drawdown rule's state after today (see :func:`_drawdown_step`)."""

    drawdown: float
    derisked: bool
    entered_on: date | None
    episode: bool
    trough: float | None
    days: int


def _sleeve_vectors(
    targets: Mapping[str, float], symbols: Sequence[str], asset_classes: Mapping[str, str]
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """The risky and the safe sleeve's weights over ``symbols``, and each sleeve's total."""
    col = {s: i for i, s in enumerate(symbols)}
    risky = np.zeros(len(symbols))
    safe = np.zeros(len(symbols))
    sleeve_totals: dict[str, float] = {}
    for s, w in targets.items():
        sleeve = sleeve_of(asset_classes.get(s, "unknown"))
        sleeve_totals[sleeve] = sleeve_totals.get(sleeve, 0.0) + w
        if s in col:
            (risky if sleeve in RISKY_SLEEVES else safe)[col[s]] = w
    return risky, safe, sleeve_totals


def _exposure_floor(limits: PolicyLimits, sleeve_totals: Mapping[str, float]) -> float:
    """The lowest multiplier: the tier's minimum exposure, raised so each risky sleeve keeps its floor."""
    floor = limits.min_exposure
    for sleeve in RISKY_SLEEVES:
        lo = limits.sleeve_ranges[sleeve][0]
        if lo > 0 and sleeve_totals.get(sleeve, 0.0) > 0:
            floor = max(floor, lo / sleeve_totals[sleeve])
    return min(floor, 1.0)


def _drawdown_step(
    *, state: OverlayState, settings: OverlaySettings, limits: PolicyLimits, as_of: date,
    events: list[str], notes: list[str],
) -> _DrawdownState:
    """The drawdown rule: de-risk once on a breach, re-enter after a recovery (hysteresis)."""
    drawdown = max(0.0, 1.0 - state.index / state.peak) if state.peak > 0 else 0.0
    derisked, entered_on, episode = state.derisked, state.entered_on, state.episode
    trough, days = state.trough, state.days_derisked + (1 if state.derisked else 0)
    if not settings.drawdown_rule:
        if derisked:
            derisked, trough = False, None
            events.append("reenter")
        return _DrawdownState(drawdown, derisked, entered_on, episode, trough, days)
    if episode and not derisked and drawdown <= settings.episode_end_drawdown:
        episode = False
        events.append("episode_end")
    if not derisked and not episode and drawdown > limits.max_drawdown:
        derisked, episode, entered_on, trough, days = True, True, as_of, state.shadow, 0
        events.append("derisk")
        notes.append(
            f"the portfolio is {drawdown:.1%} below its peak, beyond the {limits.max_drawdown:.0%} "
            f"limit of your tier: its risky assets are cut to {limits.derisk_exposure:.0%} once, "
            "until the market recovers"
        )
    elif derisked and days >= settings.min_stay_days:
        rise = state.shadow / trough - 1.0 if trough else 0.0
        if rise >= settings.recovery_rise or drawdown <= limits.max_drawdown / 2.0:
            derisked, trough = False, None
            events.append("reenter")
            notes.append(
                f"the market has recovered ({rise:+.1%} from its low since the cut): "
                "the risky assets go back to their full allocation"
            )
    return _DrawdownState(drawdown, derisked, entered_on, episode, trough, days)


def _multiplier_step(
    *, moments: tuple[float, float, float], forecast: float, floor: float, has_risky: bool, derisked: bool,
    previous: float, limits: PolicyLimits, settings: OverlaySettings, events: list[str], notes: list[str],
) -> tuple[float, float]:
    """Today's multiplier and the volatility-targeting part of it.

    Wanted: volatility targeting (floored), the drawdown cut (floored: a balanced portfolio
    keeps its lowest equity), the VaR cap (not floored). It moves only past the exposure band,
    on a de-risk or a re-entry, or when yesterday's exposure now breaks the VaR room.
    """
    a, b, c = moments
    vol_part = 1.0
    if settings.volatility_targeting and has_risky:
        vol_part = min(1.0, max(floor, _multiplier_for(limits.volatility_target / math.sqrt(TRADING_DAYS), a, b, c)))
    cut = limits.derisk_exposure if derisked else 1.0
    var_room = _multiplier_for(limits.max_var_95 / Z_95, a, b, c)
    wanted = min(max(vol_part * cut, floor), var_room * (1.0 - VAR_MARGIN), 1.0)
    var_bound = var_room * (1.0 - VAR_MARGIN) < max(vol_part * cut, floor)
    breach = previous > var_room + 1e-12
    if not has_risky:
        return 1.0, vol_part
    moved_by_rule = "derisk" in events or "reenter" in events
    if not (moved_by_rule or breach or abs(wanted - previous) > settings.exposure_band):
        return min(previous, 1.0), vol_part
    multiplier = wanted
    if not moved_by_rule and abs(wanted - previous) > 1e-9:
        events.append("var_cap" if var_bound else "exposure")
        if var_bound:
            var_then = Z_95 * math.sqrt(max(a * previous**2 + 2 * b * previous + c, 0.0))
            notes.append(
                f"the one-day VaR forecast would be {var_then:.2%}, above the {limits.max_var_95:.2%} limit: "
                f"risky assets held at {multiplier:.0%} of their allocation"
            )
        else:
            notes.append(
                f"the forecast volatility of the strategy's mix is {forecast:.1%} a year against your tier's "
                f"{limits.volatility_target:.0%} target: risky assets held at {multiplier:.0%} of their "
                "allocation"
            )
    return multiplier, vol_part


def _scaled(targets: Mapping[str, float], asset_classes: Mapping[str, str], multiplier: float) -> dict[str, float]:
    """The targets with the risky sleeve scaled by ``multiplier`` (dust dropped)."""
    weights = {}
    for s, w in targets.items():
        sleeve = sleeve_of(asset_classes.get(s, "unknown"))
        scaled = w * multiplier if sleeve in RISKY_SLEEVES else w
        if scaled > 1e-10:
            weights[s] = scaled
    return weights


def overlay_apply(
    *,
    targets: Mapping[str, float],
    returns: np.ndarray,
    symbols: Sequence[str],
    asset_classes: Mapping[str, str],
    limits: PolicyLimits,
    settings: OverlaySettings,
    state: OverlayState,
    as_of: date,
) -> OverlayResult:
    """Today's multiplier on the risky sleeve and the final targets (see the module docstring).

    ``returns``: the return window (rows oldest first) over ``symbols``, no missing value;
    ``targets``: the strategic (projected) targets; ``state``: already tracked for today
    (:func:`performance_track`, :func:`shadow_track`).
    """
    risky, safe, sleeve_totals = _sleeve_vectors(targets, symbols, asset_classes)
    a, b, c = _moments(returns, risky, safe, settings.halflife_days)
    forecast = math.sqrt(max(a + 2 * b + c, 0.0) * TRADING_DAYS)
    events: list[str] = []
    notes: list[str] = []
    drawdown, derisked, entered_on, episode, trough, days = _drawdown_step(
        state=state, settings=settings, limits=limits, as_of=as_of, events=events, notes=notes
    )
    multiplier, vol_part = _multiplier_step(
        moments=(a, b, c), forecast=forecast, floor=_exposure_floor(limits, sleeve_totals),
        has_risky=bool(risky.any()), derisked=derisked, previous=state.exposure, limits=limits,
        settings=settings, events=events, notes=notes,
    )
    var_now = Z_95 * math.sqrt(max(a * multiplier**2 + 2 * b * multiplier + c, 0.0))
    record = OverlayRecord(
        multiplier=multiplier, exposure=vol_part, forecast_volatility=forecast,
        target_volatility=limits.volatility_target, derisked=derisked, drawdown=drawdown,
        var_forecast=var_now, events=tuple(events), notes=tuple(notes),
        final_volatility=var_now / Z_95 * math.sqrt(TRADING_DAYS),
    )
    new_state = replace(
        state, exposure=multiplier, derisked=derisked, entered_on=entered_on if derisked else None,
        episode=episode, trough=trough if derisked else None, days_derisked=days if derisked else 0,
    )
    return OverlayResult(weights=_scaled(targets, asset_classes, multiplier), record=record, state=new_state)
