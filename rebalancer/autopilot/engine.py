"""The pure decision core of the autonomous cycle (no Django, no database).

:func:`cycle_decide` runs DESIGN.md's steps 1-5 and 7 for one portfolio on one as-of
date; step 6 (execution) belongs to the DB shell (:mod:`rebalancer.autopilot.services`)
or to the backtester's simulated broker. The same function drives production, the
backtests, the evaluation and ``rebalance/predict``. It reads top to bottom as a careful
adviser works:

1. **data** (:func:`portfolio_view`) — a held asset whose price is stale or suspect is
   *held*, frozen at today's weight, and not traded; a universe asset without a reliable
   price is left out; the rest of the portfolio still rebalances and the decision says
   so. Only the kill switch in ``halt`` mode, an empty portfolio or a holding that
   cannot be valued at all skips the cycle;
2. **review** (:func:`review_due`) — the strategy's targets are refreshed on the review
   calendar (monthly or quarterly), on the first cycle, when the strategy, universe or
   limits change, on a regime change for a regime-dependent strategy, or on request;
   between reviews the last reviewed targets stand (no daily re-optimisation churn);
3. **strategy and projection** (:func:`strategic_targets`) — the strategy's raw targets
   (shared by every portfolio with the same strategy, universe and limits through
   ``targets_cache``) are projected onto the portfolio's limits
   (:func:`portfolios.policy.project`): feasible targets, not vetoes;
4. **risk overlay** (:mod:`rebalancer.autopilot.overlay`) — exposure control toward the
   tier's volatility target, a once-per-episode de-risk on a drawdown breach with
   hysteresis, a VaR cap; the pre-trade checks then pass by construction and the
   defensive allocation is kept for the kill switch and true breaches; idle cash beyond
   the buffer goes into the universe's money-market funds, if it has any;
5. **triggers and trades** (:mod:`rebalancer.autopilot.bands`) — only assets outside
   their no-trade band trade, into the band, cash first, and only when the benefit
   beats the costs and avoidable taxes; then trade generation
   (``portfolios.trading.trades_generate``) and tax-loss harvesting when on;
7. **explain** — raw, projected and final weights, the overlay's numbers, every check,
   a plain-language summary, and the :class:`PolicyState` the next cycle starts from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

from portfolios.policy import PolicyLimits, Projection, ProjectionError, project
from portfolios.policy.projection import effective_ranges
from portfolios.strategies import (
    StrategyContext,
    StrategyError,
    StrategyResult,
    shared_target_key,
    strategy_get,
)
from portfolios.trading import ProposedTrade, TradeGenerationError, TradeSettings, trades_generate
from rebalancer.autopilot import bands, explain, harvest, triggers
from rebalancer.autopilot.checks import checks_run, turnover_of
from rebalancer.autopilot.metrics import WindowStats, metrics_of, window_stats, window_stats_array
from rebalancer.autopilot.overlay import (
    OverlayResult,
    overlay_apply,
    performance_track,
    shadow_track,
)
from rebalancer.autopilot.types import (
    AutonomyConfig,
    BandSettings,
    Check,
    CostGate,
    CycleDecision,
    DecisionFacts,
    HoldingsState,
    KillSwitchMode,
    MarketView,
    Metrics,
    OverlayState,
    Override,
    PolicyState,
    RegimeState,
    TargetsCache,
    TradeIntent,
    Trigger,
)

DUST = 1e-9
REGIME_STRATEGIES = ("regime_adaptive",)
"""Strategies whose targets depend on the market regime (a regime change reviews them)."""
_ZERO_BAND = BandSettings(relative=0.0, floor=1e-6)
REGIME_CONFIRM_DAYS = 5
"""A new regime reviews a regime-dependent strategy once the detector has called it this
many cycles in a row (a call that flips back and forth does not re-trade the portfolio)."""


# --- step 1: what the portfolio holds and what can be traded today -----------------------------


def _status(symbol: str, market: MarketView) -> tuple[str, tuple[str, ...]]:
    health = market.health.get(symbol)
    if health is not None and health.status != "ok":
        return health.status, health.reasons
    price = market.prices.get(symbol)
    if price is None or not price > 0:
        return "missing", (f"no close for {symbol} on {market.as_of.isoformat()}",)
    return "ok", ()


def data_problems(symbols: set[str], market: MarketView) -> dict[str, str]:
    """One sentence per symbol whose data is not ``ok``, by symbol."""
    problems = {}
    for symbol in sorted(symbols):
        status, reasons = _status(symbol, market)
        if status != "ok":
            why = "; ".join(reasons) if reasons else "no detail"
            problems[symbol] = f"{symbol} is {status} ({why})"
    return problems


def universe_of(state: HoldingsState, config: AutonomyConfig) -> tuple[str, ...]:
    """Symbols the strategy may hold, sorted (held ones count when no universe is set)."""
    if config.universe:
        return tuple(sorted(set(config.universe)))
    symbols = {s for s, q in state.quantities.items() if q > 0} | {
        s for s, w in config.target_weights.items() if w > 0
    }
    return tuple(sorted(symbols))


@dataclass(frozen=True)
class PortfolioView:
    """Today's valuation and the tradeable universe of one portfolio."""

    prices: dict[str, float]
    total: float
    current: dict[str, float]
    universe: tuple[str, ...]
    """Tradeable symbols the strategy may hold (unreliable ones removed)."""
    frozen: dict[str, float]
    """Held symbols with unreliable prices: kept at today's weight."""
    notes: tuple[str, ...]
    net_flows: float = 0.0
    """New money deposited (minus withdrawals) since the last cycle."""


def portfolio_view(state: HoldingsState, market: MarketView, config: AutonomyConfig) -> PortfolioView | str:
    """The portfolio valued at today's closes, or the reason it cannot be (a string)."""
    held = {s: float(q) for s, q in state.quantities.items() if float(q) > DUST}
    universe = universe_of(state, config)
    problems = data_problems(set(held) | set(universe), market)
    unpriced = sorted(s for s in held if not (market.prices.get(s) or 0) > 0)
    if unpriced:
        return (
            "Market data is not reliable today, so nothing was traded: "
            + "; ".join(problems[s] for s in unpriced) + "."
        )
    prices = {s: float(market.prices[s]) for s in set(held) | set(universe) if (market.prices.get(s) or 0) > 0}
    total = float(state.cash) + sum(q * prices[s] for s, q in held.items())
    if total <= 0:
        return "The portfolio is empty."
    current = {s: q * prices[s] / total for s, q in held.items()}
    frozen = {s: current[s] for s in held if s in problems}
    tradeable = tuple(s for s in universe if s not in problems)
    notes = []
    if frozen:
        notes.append(
            "held and not traded today because their prices are not reliable: "
            + "; ".join(problems[s] for s in sorted(frozen))
        )
    left_out = sorted(s for s in universe if s in problems and s not in held)
    if left_out:
        notes.append("left out of today's targets: " + "; ".join(problems[s] for s in left_out))
    if not tradeable:
        return "Market data is not reliable today, so nothing was traded: " + "; ".join(problems.values()) + "."
    return PortfolioView(prices, total, current, tradeable, frozen, tuple(notes), float(state.net_flows))


# --- step 2: is a review due? -------------------------------------------------------------------


def policy_key(config: AutonomyConfig, universe: tuple[str, ...]) -> str:
    """Fingerprint of what the reviewed targets were made for (a change forces a review)."""
    parts = (
        config.strategy, universe, repr(config.limits), sorted(config.target_weights.items()),
        sorted(config.strategy_options.items()), config.lookback_days,
    )
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:16]


def regime_track(policy: PolicyState, regime: RegimeState | None) -> tuple[str | None, int]:
    """The regime the detector has called in a row, and for how many cycles (with today's call)."""
    if regime is None:
        return policy.regime_candidate, policy.regime_days
    if regime.regime == policy.regime_candidate:
        return regime.regime, policy.regime_days + 1
    return regime.regime, 1


def review_due(
    *, policy: PolicyState, config: AutonomyConfig, market: MarketView, regime: RegimeState | None, key: str,
    regime_days: int = 0,
) -> Trigger | None:
    """Why the strategy's targets are refreshed today (``None``: keep the reviewed ones)."""
    as_of = market.as_of
    if not policy.targets:
        return Trigger(kind="review", message="this is the portfolio's first review")
    if config.force:
        return Trigger(kind="manual", message="a review was requested")
    if policy.key != key:
        return Trigger(kind="review", message="the strategy, universe or limits changed since the last review")
    calendar = triggers.calendar_trigger(as_of, config.calendar, market.trading_days)
    if calendar is not None:
        return calendar
    if config.calendar == "none" and policy.reviewed_on != as_of:
        return Trigger(kind="review", message="targets are reviewed every day (no review calendar)")
    if (config.strategy in REGIME_STRATEGIES and regime is not None and regime.regime != policy.regime
            and regime_days >= REGIME_CONFIRM_DAYS):
        trigger = triggers.regime_change_trigger(regime)
        return replace(trigger, message=f"{trigger.message}, called {regime_days} days in a row")
    return None


# --- step 3: strategy and projection ------------------------------------------------------------


def _stats(market: MarketView, symbols: tuple[str, ...], lookback: int, cache: TargetsCache | None) -> WindowStats:
    key = ("__window__", market.as_of, symbols, lookback, id(market.returns))
    if cache is not None and key in cache:
        return cache[key]
    if market.returns_array is not None and market.returns_columns is not None and all(
        s in market.returns_columns for s in symbols
    ):
        stats = window_stats_array(market.returns_array, market.returns_dates, market.returns_columns, symbols, lookback)
    else:
        stats = window_stats(market.returns, symbols, lookback)
    if cache is not None:
        cache[key] = stats
    return stats


def optimizer_constraints(limits: PolicyLimits, symbols: tuple[str, ...], classes: Mapping[str, str]):
    """The limits as optimizer constraints, relaxed to what the universe can hold.

    Sleeves are passed as the optimizer's asset classes and asset classes as its
    sectors, so one solve honours both levels of the tier.
    """
    from portfolios.optimization import Constraints
    from portfolios.policy.tiers import sleeve_of

    sleeves, class_ranges, _ = effective_ranges(limits, symbols, classes)
    sleeve_of_symbol = {s: sleeve_of(classes.get(s, "unknown")) for s in symbols}
    present = set(sleeve_of_symbol.values())
    return Constraints(
        bounds={s: (0.0, limits.position_cap(classes.get(s, "unknown"))) for s in symbols},
        max_holdings=limits.max_holdings if limits.max_holdings and limits.max_holdings < len(symbols) else None,
        asset_classes=sleeve_of_symbol,
        asset_class_min={s: lo for s, (lo, _) in sleeves.items() if s in present and lo > 0},
        asset_class_max={s: hi for s, (_, hi) in sleeves.items() if s in present and hi < 1},
        sectors={s: classes.get(s, "unknown") for s in symbols},
        sector_max={c: hi for c, (_, hi) in class_ranges.items() if hi < 1},
        excluded=tuple(s for s in limits.excluded_symbols if s in symbols),
        cash_buffer=limits.cash_buffer,
    )


def strategy_targets(
    *,
    name: str,
    symbols: tuple[str, ...],
    stats: WindowStats,
    market: MarketView,
    config: AutonomyConfig,
    current: Mapping[str, float],
    regime: RegimeState | None,
    cache: TargetsCache | None,
) -> StrategyResult:
    """The raw targets of strategy ``name``, computed once per shared key within a cycle.

    Money-market funds are left out of the strategy's universe: they are the cash
    sleeve's instrument, not a risk asset to optimise over (risk parity would otherwise
    give a near-riskless fund most of the portfolio); idle cash is swept into them after
    the overlay (:func:`sweep_idle_cash`).
    """
    from portfolios.policy.tiers import sleeve_of

    strategy = strategy_get(name)
    investable = tuple(s for s in symbols if sleeve_of(market.asset_classes.get(s, "unknown")) != "cash")
    symbols = investable or symbols
    classes = {s: market.asset_classes.get(s, "unknown") for s in symbols}
    ctx = StrategyContext(
        as_of=market.as_of,
        symbols=symbols,
        returns=stats.frame,
        current_weights=dict(current),
        risk_tier=config.risk_tier,
        regime=regime,
        limits=config.limits,
        asset_classes=classes,
        options={"target_weights": dict(config.target_weights), **dict(config.strategy_options)},
    )
    per_portfolio = bool(getattr(strategy, "per_portfolio", False))
    key = (
        *shared_target_key(ctx, name),
        config.lookback_days, repr(config.limits), regime.regime if regime else None,
        tuple(sorted(config.strategy_options.items())),
    )
    if cache is not None and not per_portfolio and key in cache:
        return cache[key]
    # Built only on a miss: the constraints are a function of the key's limits and symbols, and
    # building them was most of a cache hit's cost (~1 ms a portfolio, profiled).
    ctx = replace(ctx, constraints=optimizer_constraints(config.limits, symbols, classes))
    result = strategy.target_weights(ctx)
    if cache is not None and not per_portfolio and not result.details.get("per_portfolio"):
        cache[key] = result
    return result


def _project(raw: Mapping[str, float], config: AutonomyConfig, view: PortfolioView, market: MarketView,
             cache: TargetsCache | None = None) -> Projection:
    """The projection of ``raw`` onto the limits, computed once per cycle for equal inputs.

    ``project`` is a pure function of its arguments, and portfolios that share targets
    (same strategy, tier and universe) mostly share them all; the key holds every argument
    (``raw`` in its order), so a hit is the projection the portfolio would have computed.
    Each caller gets its own dicts of weights."""
    symbols = set(view.universe) | set(view.frozen) | set(raw)
    classes = {s: market.asset_classes.get(s, "unknown") for s in symbols}
    key = ("__projection__", tuple(raw.items()), repr(config.limits), tuple(sorted(classes.items())),
           tuple(view.universe), tuple(view.frozen.items()))
    shared = cache.get(key) if cache is not None else None
    if shared is None:
        shared = project(raw, limits=config.limits, asset_classes=classes, universe=view.universe, frozen=view.frozen)
        if cache is not None:
            cache[key] = shared
    return replace(shared, weights=dict(shared.weights), raw=dict(shared.raw))


# --- step 4 and 5 helpers -------------------------------------------------------------------------


SWEEP_MIN = 0.005
"""Idle cash below this share of the portfolio stays uninvested."""


def sweep_idle_cash(
    targets: dict[str, float], view: PortfolioView, market: MarketView, config: AutonomyConfig
) -> dict[str, float]:
    """Cash beyond the buffer into the universe's money-market funds, equally, each up to
    its position cap (the cash sleeve keeps its size: uninvested cash and money-market funds
    both count as cash). What the funds cannot take stays uninvested: when the risk overlay
    holds more cash than the tier's cash ceiling (an aggressive portfolio de-risked to 70 %),
    a fund filled past its cap would fail the position check and send the portfolio to the
    defensive allocation, a veto of the overlay's own decision."""
    from portfolios.policy.tiers import sleeve_of

    funds = [s for s in view.universe if sleeve_of(market.asset_classes.get(s, "unknown")) == "cash"
             and s not in config.limits.excluded_symbols]
    idle = 1.0 - sum(targets.values()) - config.limits.cash_buffer
    if not funds or idle < SWEEP_MIN:
        return targets
    out = dict(targets)
    room = {s: max(0.0, config.limits.position_cap(market.asset_classes.get(s, "cash")) - out.get(s, 0.0))
            for s in funds}
    # Water-filling: equal shares, a fund that reaches its cap passes the rest to the others.
    ordered = sorted(funds, key=lambda f: room[f])
    for i, s in enumerate(ordered):
        share = min(room[s], idle / (len(ordered) - i))
        if share > 0.0:
            out[s] = out.get(s, 0.0) + share
            idle -= share
    return out


def _defensive(*, view: PortfolioView, stats: WindowStats, market, config, regime, cache) -> tuple[dict[str, float], str]:
    """The kill switch's defensive allocation: min volatility on (1 - defensive_cash), rest cash."""
    invested = 1.0 - config.defensive_cash
    try:
        result = strategy_targets(
            name=config.defensive_strategy, symbols=view.universe, stats=stats, market=market,
            config=config, current=view.current, regime=regime, cache=cache,
        )
        projected = _project(result.weights, config, view, market).weights
    except (StrategyError, ProjectionError):
        return dict(view.frozen), "all cash (the defensive strategy could not run on this history)"
    total = sum(projected.values())
    factor = invested / total if total > invested else 1.0
    weights = {s: w * (1.0 if s in view.frozen else factor) for s, w in projected.items()}
    return weights, f"{config.defensive_strategy} with {config.defensive_cash:.0%} in cash"


def _to_intent(trade: ProposedTrade) -> TradeIntent:
    return TradeIntent(
        symbol=trade.symbol,
        side=trade.side,
        quantity=float(trade.quantity),
        price=float(trade.price),
        value=float(trade.notional),
        est_cost=float(trade.est_cost),
        reason=trade.reason,
        lot_ids=tuple(trade.lot_ids),
        harvest="tax_loss_harvest" in trade.tags,
        order=trade,
    )


def trade_settings(config: AutonomyConfig) -> TradeSettings:
    t = config.trade
    return TradeSettings(
        min_trade_value=Decimal(str(t.min_trade_value)),
        fractional_shares=t.fractional,
        cash_buffer=Decimal(str(config.limits.cash_buffer)),
        commission_rate=Decimal(str(t.commission_rate)),
        commission_min=Decimal(str(t.commission_min)),
        slippage_bps=Decimal(str(t.slippage_bps)),
    )


def weights_after(
    state: HoldingsState, prices: Mapping[str, float], trades: tuple[TradeIntent, ...]
) -> dict[str, float]:
    """Weights after the trades fill at their estimates (costs leave the portfolio)."""
    quantities = {s: float(q) for s, q in state.quantities.items()}
    cash = float(state.cash)
    for t in trades:
        sign = 1.0 if t.side == "buy" else -1.0
        quantities[t.symbol] = quantities.get(t.symbol, 0.0) + sign * t.quantity
        cash -= sign * t.value + t.est_cost
    total = cash + sum(q * prices[s] for s, q in quantities.items() if q > DUST)
    if total <= 0:
        return {}
    return {s: q * prices[s] / total for s, q in quantities.items() if q > DUST}


def _decision(**fields) -> CycleDecision:
    fields.setdefault("triggers", ())
    fields.setdefault("strategy", None)
    fields.setdefault("strategy_result", None)
    fields.setdefault("target_weights", {})
    fields.setdefault("checks", ())
    fields.setdefault("override", None)
    fields.setdefault("trades", ())
    fields.setdefault("before", None)
    fields.setdefault("after", None)
    fields.setdefault("confidence", 0.0)
    decision = CycleDecision(summary="", **fields)
    return replace(decision, summary=explain.summary_of(decision))


def _limit_breaches(current: Mapping[str, float], config: AutonomyConfig, frozen) -> list[str]:
    """Holdings that break a limit today (these trades are never gated by costs)."""
    limits = config.limits
    out = [s for s, w in current.items() if s not in frozen and w > limits.max_position + 1e-6]
    out += [s for s in current if s in limits.excluded_symbols and s not in frozen]
    return out


# --- the cycle ----------------------------------------------------------------------------------


def cycle_decide(
    *,
    state: HoldingsState,
    market: MarketView,
    config: AutonomyConfig,
    kill_switch: KillSwitchMode = "off",
    regime: RegimeState | None = None,
    targets_cache: TargetsCache | None = None,
) -> CycleDecision:
    """Decide one portfolio's cycle on ``market.as_of``; see the module docstring.

    Never raises for bad market data or a failing strategy: those become a ``skipped``
    decision carrying the reason (the policy state is kept). Unusable holdings (negative
    quantities) raise :class:`TradeGenerationError`.
    """
    policy = state.policy or PolicyState()
    if kill_switch == "halt":
        return _halted(market.as_of, policy)
    # Step 1: what the portfolio holds and what can be traded today.
    view = portfolio_view(state, market, config)
    if isinstance(view, str):
        return _decision(as_of=market.as_of, action="skipped", skipped_reason=view, policy_state=policy,
                         skip_kind="data")
    stats = _stats(market, tuple(sorted(set(view.current) | set(view.universe))), config.lookback_days, targets_cache)
    cycle = _Cycle(state=state, market=market, config=config, kill_switch=kill_switch, regime=regime,
                   cache=targets_cache, policy=policy, view=view, stats=stats)
    strategic = _strategic_step(cycle)  # steps 2-3
    if isinstance(strategic, CycleDecision):
        return strategic
    overlaid = _overlay_step(cycle, strategic)  # step 4
    return _trade_step(cycle, strategic, overlaid)  # step 5 (and 7: every decision explains itself)


@dataclass(frozen=True)
class _Cycle:
    """What every step of one portfolio's cycle reads: :func:`cycle_decide`'s arguments, valued."""

    state: HoldingsState
    market: MarketView
    config: AutonomyConfig
    kill_switch: KillSwitchMode
    regime: RegimeState | None
    cache: TargetsCache | None
    policy: PolicyState
    """The state the previous cycle left (empty before the first review)."""
    view: PortfolioView
    stats: WindowStats

    @property
    def as_of(self) -> date:
        return self.market.as_of

    @property
    def common(self) -> dict[str, Any]:
        """The fields of every decision made once the portfolio is valued."""
        return dict(as_of=self.as_of, current_weights=self.view.current, total_value=self.view.total)


@dataclass(frozen=True)
class _Strategic:
    """Steps 2-3: why the targets were reviewed, what the strategy said, their projection."""

    review: Trigger | None
    """Why the targets were reviewed today (``None``: the last reviewed ones stand)."""
    result: StrategyResult | None
    """The strategy's answer (``None``: no review, or the strategy could not run)."""
    projection: Projection
    key: str
    regime_candidate: str | None
    regime_days: int


@dataclass(frozen=True)
class _Overlaid:
    """Step 4: the targets after the risk overlay and the cash sweep."""

    targets: dict[str, float]
    overlay: OverlayResult
    details: dict[str, Any]
    """The fields every decision from here on carries (strategy, weights, policy state, facts)."""


@dataclass(frozen=True)
class _Fired:
    """Step 5's triggers: those that trade, those only reported, and how the trade is made."""

    triggers: tuple[Trigger, ...]
    """What fires a trade today (empty: a hold)."""
    informational: tuple[Trigger, ...]
    """A review that changed the targets but fires nothing: reported, not traded on."""
    exempt: bool
    """The trade skips the cost gate (a limit breach, the overlay, new cash, the kill switch)."""
    full_review: bool
    """A review that trades every asset to its target (``band.on_review == "full"``)."""


def _halted(as_of: date, policy: PolicyState) -> CycleDecision:
    return _decision(
        as_of=as_of, action="skipped", policy_state=policy,
        triggers=(Trigger(kind="kill_switch", message="the operator halted autonomous trading"),),
        skipped_reason="Autonomous trading is halted by the operator (kill switch); nothing was traded.",
        skip_kind="halted",
    )


def _skipped(cycle: _Cycle, reason: str, kind: str) -> CycleDecision:
    """A cycle that found no targets: nothing traded, the policy state kept."""
    return _decision(action="skipped", strategy=cycle.config.strategy, policy_state=cycle.policy,
                     skipped_reason=reason, skip_kind=kind, **cycle.common)


def _strategic_step(cycle: _Cycle) -> _Strategic | CycleDecision:
    """Steps 2-3: the strategic targets, reviewed today or kept from the last review, projected
    onto the limits; a ``skipped`` decision when there are none."""
    config, policy, view = cycle.config, cycle.policy, cycle.view
    key = policy_key(config, view.universe)
    candidate, regime_days = regime_track(policy, cycle.regime)
    review = review_due(policy=policy, config=config, market=cycle.market, regime=cycle.regime, key=key,
                        regime_days=regime_days)
    result: StrategyResult | None = None
    raw: Mapping[str, float] = policy.targets
    if review is not None:
        try:
            result = strategy_targets(
                name=config.strategy, symbols=view.universe, stats=cycle.stats, market=cycle.market,
                config=config, current=view.current, regime=cycle.regime, cache=cycle.cache,
            )
        except StrategyError as exc:
            if not policy.targets:
                return _skipped(cycle, f"The strategy {config.strategy} could not propose targets: {exc}", "strategy")
            review = replace(review, message=f"{review.message}; the strategy could not run ({exc}), "
                             "so the last reviewed targets stand")
        else:
            raw = result.weights
    try:
        projection = _projection(cycle, raw, review)
    except ProjectionError as exc:
        return _skipped(cycle, f"No feasible targets: {exc}", "infeasible")
    return _Strategic(review=review, result=result, projection=projection, key=key,
                      regime_candidate=candidate, regime_days=regime_days)


def _projection(cycle: _Cycle, raw: Mapping[str, float], review: Trigger | None) -> Projection:
    policy, view = cycle.policy, cycle.view
    if review is None and not view.frozen and policy.targets and set(policy.targets) <= set(view.universe):
        return Projection(weights=dict(policy.targets), raw=dict(policy.targets))  # already feasible
    return _project(raw, cycle.config, view, cycle.market, cycle.cache)


def _overlay_step(cycle: _Cycle, strategic: _Strategic) -> _Overlaid:
    """Step 4: the risk overlay on the strategic targets, then idle cash into money-market funds."""
    config, market, stats = cycle.config, cycle.market, cycle.stats
    tracked = performance_track(cycle.policy.overlay, total_value=cycle.view.total, net_flows=cycle.state.net_flows)
    tracked = shadow_track(tracked, *_since_last(cycle.policy, stats))
    overlaid = overlay_apply(
        targets=strategic.projection.weights, returns=stats.returns, symbols=stats.symbols,
        asset_classes=market.asset_classes, limits=config.limits, settings=config.overlay,
        state=tracked, as_of=cycle.as_of,
    )
    targets = sweep_idle_cash(dict(overlaid.weights), cycle.view, market, config)
    facts = decision_facts(config=config, market=market, projection=strategic.projection, targets=targets,
                           overlaid=overlaid.weights, current=cycle.view.current)
    return _Overlaid(targets=targets, overlay=overlaid,
                     details=_decision_details(cycle, strategic, overlaid, facts))


def _next_policy(cycle: _Cycle, strategic: _Strategic, overlay: OverlayState) -> PolicyState:
    """The policy state the next cycle starts from (a review that ran moves its date and key)."""
    policy, result, regime = cycle.policy, strategic.result, cycle.regime
    reviewed = result is not None  # the strategy ran, so a review was due
    return PolicyState(
        targets=strategic.projection.weights,
        reviewed_on=cycle.as_of if reviewed else policy.reviewed_on,
        key=strategic.key if reviewed else policy.key,
        strategy=cycle.config.strategy,
        confidence=float(result.confidence) if result is not None else policy.confidence,
        regime=(regime.regime if regime is not None else policy.regime) if reviewed else policy.regime,
        regime_candidate=strategic.regime_candidate,
        regime_days=strategic.regime_days,
        overlay=overlay,
        last_date=cycle.as_of,
    )


def _decision_details(cycle: _Cycle, strategic: _Strategic, overlaid: OverlayResult,
                      facts: DecisionFacts) -> dict[str, Any]:
    result, projection = strategic.result, strategic.projection
    return dict(
        strategy=cycle.config.strategy, strategy_result=result, raw_weights=dict(projection.raw),
        strategic_weights=dict(projection.weights), projection_notes=projection.changes + projection.relaxed,
        overlay=overlaid.record, policy_state=_next_policy(cycle, strategic, overlaid.state),
        reviewed=result is not None,
        confidence=float(result.confidence) if result is not None else cycle.policy.confidence,
        notes=cycle.view.notes,
        facts=facts,
    )


def _trade_step(cycle: _Cycle, strategic: _Strategic, overlaid: _Overlaid) -> CycleDecision:
    """Step 5: what fires today and, when something does, the trades worth making."""
    view, config = cycle.view, cycle.config
    fired = _fired(cycle, strategic, overlaid)
    if not fired.triggers:
        before = metrics_of(view.current, cycle.stats) if fired.informational else None
        return _decision(action="hold", target_weights=overlaid.targets, triggers=fired.informational,
                         before=before, **overlaid.details, **cycle.common)
    before = metrics_of(view.current, cycle.stats)
    targets, override = overlaid.targets, None
    if cycle.kill_switch == "defensive":
        targets, override = _defensive_override(
            cycle, reason="the operator switched every portfolio to the defensive allocation", source="kill_switch")
    if override is None and not fired.exempt and not fired.full_review and config.band.cost_gate:
        held = _cost_gate_hold(cycle, targets, overlaid, fired, before)
        if held is not None:
            return held
    targets, checks, override = _checked(cycle, targets, overlaid, override)
    move = bands.band_move(view.current, targets, threshold=config.rebalance_threshold, settings=config.band,
                           full=override is not None or fired.full_review)
    return _trade(state=cycle.state, view=view, market=cycle.market, config=config, stats=cycle.stats,
                  weights=move.weights, targets=targets, checks=checks, override=override,
                  triggers=fired.informational + fired.triggers, details=overlaid.details,
                  common={**cycle.common, "before": before})


def _fired(cycle: _Cycle, strategic: _Strategic, overlaid: _Overlaid) -> _Fired:
    view, review, targets = cycle.view, strategic.review, overlaid.targets
    fired, exempt = _triggers(view=view, targets=targets, overlaid=overlaid.overlay, config=cycle.config,
                              kill_switch=cycle.kill_switch)
    full_review = review is not None and cycle.config.band.on_review == "full"
    if review is not None and full_review and not fired and bands.out_of_band(view.current, targets, 0.0, _ZERO_BAND):
        fired.append(review)
        exempt = True
    unchanged = cycle.policy.targets and _same(strategic.projection.weights, cycle.policy.targets)
    # A review that leaves the targets as they were has nothing to tell.
    informational = (review,) if review is not None and review not in fired and not unchanged else ()
    return _Fired(triggers=tuple(fired), informational=informational, exempt=exempt, full_review=full_review)


def _defensive_override(cycle: _Cycle, *, reason: str, source: str) -> tuple[dict[str, float], Override]:
    targets, label = _defensive(view=cycle.view, stats=cycle.stats, market=cycle.market, config=cycle.config,
                                regime=cycle.regime, cache=cycle.cache)
    return targets, Override(reason=reason, source=source, allocation=label)


def _cost_gate_hold(cycle: _Cycle, targets: dict[str, float], overlaid: _Overlaid, fired: _Fired,
                    before: Metrics) -> CycleDecision | None:
    """A quiet hold when the drift is not worth its costs and taxes (``None``: it is)."""
    view, config = cycle.view, cycle.config
    move = bands.band_move(view.current, targets, threshold=config.rebalance_threshold, settings=config.band)
    gate = bands.cost_gate(
        current=view.current, proposed=move.weights, targets=targets, symbols=cycle.stats.symbols,
        cov=cycle.stats.cov, total_value=view.total, prices=view.prices, lots=cycle.state.lots, as_of=cycle.as_of,
        trade=config.trade, tax=config.tax, risk_aversion=config.limits.risk_aversion, settings=config.band,
    )
    if gate.passed:
        return None
    # Not worth trading: a quiet hold (a review day still records its review).
    details = overlaid.details
    gated = replace(details["facts"], gate=CostGate(gate.passed, gate.benefit, gate.trading_cost, gate.tax_cost))
    return _decision(action="hold", target_weights=targets, triggers=fired.informational, before=before,
                     **{**details, "notes": (*view.notes, f"Drift left alone: {gate.message}."), "facts": gated},
                     **cycle.common)


def _checked(cycle: _Cycle, targets: dict[str, float], overlaid: _Overlaid,
             override: Override | None) -> tuple[dict[str, float], tuple[Check, ...], Override | None]:
    """The pre-trade checks; targets that fail them move part of the way (turnover only) or go
    to the defensive allocation."""
    view, config = cycle.view, cycle.config
    checks = checks_run(current=view.current, proposed=targets, returns=cycle.stats.frame, limits=config.limits,
                        asset_classes=cycle.market.asset_classes, cache=cycle.cache,
                        var_forecast=overlaid.overlay.record.var_forecast if override is None else None)
    failed = [c for c in checks if not c.passed]
    if not failed or override is not None:
        return targets, checks, override
    if all(c.name == "turnover" for c in failed) and config.limits.max_turnover:
        targets, checks = _partial_move(view.current, targets, config, checks)
        return targets, checks, None
    names = ", ".join(c.name for c in failed)
    targets, override = _defensive_override(
        cycle, reason=f"the targets failed the pre-trade checks ({names}) after the projection and the risk overlay",
        source="pre_trade")
    return targets, checks, override


def decision_facts(*, config: AutonomyConfig, market: MarketView, projection: Projection,
                   targets: Mapping[str, float], overlaid: Mapping[str, float],
                   current: Mapping[str, float]) -> DecisionFacts:
    """The limits this decision was made under and what they did (for the investor's explanation)."""
    from portfolios.policy.tiers import sleeve_of

    limits = config.limits
    symbols = set(projection.raw) | set(projection.weights) | set(targets) | set(current)
    sleeves = {s: sleeve_of(market.asset_classes.get(s, "unknown")) for s in sorted(symbols)}
    swept = {s: w - overlaid.get(s, 0.0) for s, w in sorted(targets.items())
             if sleeves.get(s) == "cash" and w > overlaid.get(s, 0.0) + DUST}
    return DecisionFacts(
        strategy=config.strategy, tier=limits.tier, horizon_years=limits.horizon_years,
        horizon_factor=limits.horizon_factor, calendar=config.calendar,
        rebalance_threshold=config.rebalance_threshold, cash_buffer=limits.cash_buffer,
        max_position=limits.max_position, volatility_target=limits.volatility_target,
        max_var_95=limits.max_var_95, max_drawdown=limits.max_drawdown, derisk_exposure=limits.derisk_exposure,
        max_turnover=limits.max_turnover, sleeve_ranges=dict(limits.sleeve_ranges), sleeves=sleeves,
        adjustments=projection.adjustments, swept=swept,
    )


def _same(a: Mapping[str, float], b: Mapping[str, float], tolerance: float = 1e-6) -> bool:
    return all(abs(a.get(s, 0.0) - b.get(s, 0.0)) <= tolerance for s in set(a) | set(b))


def _since_last(policy: PolicyState, stats: WindowStats) -> tuple[np.ndarray, np.ndarray]:
    """Returns since the previous cycle over the previous targets (for the shadow index)."""
    if policy.last_date is None or not policy.targets or stats.returns.shape[0] == 0:
        return np.zeros((0, 0)), np.zeros(0)
    mask = np.asarray(stats.dates, dtype="datetime64[ns]") > np.datetime64(policy.last_date, "ns")
    rows = stats.returns[mask]
    return rows, stats.vector(policy.targets)


def _triggers(*, view, targets, overlaid, config, kill_switch) -> tuple[list[Trigger], bool]:
    """The triggers that can cause a trade today, and whether the trade skips the cost gate."""
    fired: list[Trigger] = []
    exempt = False
    if kill_switch == "defensive":
        fired.append(Trigger(kind="kill_switch", message="the operator switched every portfolio to the defensive allocation"))
        exempt = True
    moving = [e for e in overlaid.record.events if e in ("derisk", "reenter", "exposure", "var_cap")]
    if moving:
        message = "; ".join(overlaid.record.notes) or "the risk overlay changed the exposure"
        fired.append(Trigger(kind="risk_overlay", message=message, value=overlaid.record.multiplier))
        exempt = True
    target_cash = max(0.0, 1.0 - sum(targets.values()))
    cash = 1.0 - sum(view.current.values())
    band = bands.band_of(target_cash, config.rebalance_threshold, config.band)
    deposited = state_flows if (state_flows := view.net_flows) > config.trade.min_trade_value else 0.0
    if cash - target_cash > band or deposited:
        cash_fired = triggers.cash_trigger(cash * view.total, view.total, target_cash, config.trade.min_trade_value)
        if cash_fired is not None:
            fired.append(cash_fired)
            exempt = True
    outside = [row for row in bands.out_of_band(view.current, targets, config.rebalance_threshold, config.band)
               if row[0] not in view.frozen]
    if outside:
        symbol, drift, band = outside[0]
        fired.append(Trigger(
            kind="drift",
            message=(f"{symbol} is {view.current.get(symbol, 0.0):.1%} of the portfolio against a target of "
                     f"{targets.get(symbol, 0.0):.1%}, outside its ±{band:.1%} band"
                     + (f" ({len(outside)} assets outside their bands)" if len(outside) > 1 else "")),
            value=abs(drift), threshold=band, symbol=symbol,
        ))
        if _limit_breaches(view.current, config, view.frozen) or any(
            targets.get(s, 0.0) <= DUST for s, _, _ in outside
        ):
            exempt = True
    if config.force and not fired:
        fired.append(Trigger(kind="manual", message="a rebalance was requested"))
        exempt = True
    return fired, exempt


def _partial_move(current, targets, config, checks) -> tuple[dict[str, float], tuple[Check, ...]]:
    """Move part of the way to the targets so that the turnover cap holds."""
    step = config.limits.max_turnover / max(turnover_of(current, targets), DUST) * 0.999
    moved = {
        s: current.get(s, 0.0) + step * (targets.get(s, 0.0) - current.get(s, 0.0))
        for s in set(current) | set(targets)
    }
    note = Check(name="turnover_partial", passed=True, value=step, limit=1.0,
                 message=f"moved {step:.0%} of the way to the targets to respect the turnover cap")
    return {s: w for s, w in moved.items() if w > DUST}, (*checks, note)


def _trade(*, state, view, market, config, stats, weights, targets, checks, override, triggers, details, common):
    harvest_notes: list[str] = []
    candidates: tuple = ()
    wash_blocks: tuple[str, ...] = ()
    weights = {s: w for s, w in weights.items() if s not in view.frozen}
    if config.tax.enabled:  # tax-aware trading and loss harvesting (rebalancer.autopilot.harvest)
        weights, harvest_notes = harvest.wash_sale_guard(
            targets=weights, current=view.current, state=state, market=market, config=config, frame=stats.frame,
        )
        weights, trim_notes = harvest.tax_aware_trim(
            targets=weights, current=view.current, prices=view.prices, total_value=view.total, state=state,
            market=market, config=config, frame=stats.frame,
        )
        wash_blocks = harvest.wash_sale_blocks(harvest_notes, ())
        harvest_notes += trim_notes
        weights, candidates, blocked = harvest.harvest_plan(
            targets=weights, current=view.current, prices=view.prices, total_value=view.total, state=state,
            market=market, config=config, frame=stats.frame,
        )
        wash_blocks = tuple(sorted({*wash_blocks, *harvest.wash_sale_blocks([], blocked)}))
        harvest_notes += [why for _, why in blocked]
    held = {s: float(q) for s, q in state.quantities.items() if float(q) > DUST and s not in view.frozen}
    try:
        proposed = trades_generate(
            quantities={s: Decimal(str(q)) for s, q in held.items()},
            prices={s: Decimal(str(p)) for s, p in view.prices.items() if s not in view.frozen},
            cash=Decimal(str(state.cash)),
            target_weights=_rescaled(weights, view),
            settings=trade_settings(config),
        )
    except TradeGenerationError as exc:
        return _decision(action="skipped", target_weights=targets, checks=checks, override=override,
                         triggers=triggers, skipped_reason=f"Trades could not be generated: {exc}", skip_kind="trades",
                         **details, **common)
    harvested_loss = 0.0
    if candidates:
        proposed, harvested_loss = harvest.harvest_tag(proposed, candidates)
    intents = tuple(_to_intent(t) for t in proposed)
    after = metrics_of(weights_after(state, view.prices, intents), stats)
    confidence = 1.0 if override else details["confidence"]
    return _decision(
        action="rebalance" if intents else "hold", triggers=triggers, target_weights=targets, checks=checks,
        override=override, trades=intents, after=after, harvested_loss=harvested_loss, wash_sale_blocks=wash_blocks,
        **{**details, "confidence": confidence, "notes": view.notes + tuple(harvest_notes)}, **common,
    )


def _rescaled(weights: Mapping[str, float], view: PortfolioView) -> dict[str, float]:
    """Weights of the tradeable part, as fractions of the tradeable value (frozen holdings excluded)."""
    frozen = sum(view.frozen.values())
    if frozen <= DUST:
        return dict(weights)
    scale = 1.0 / (1.0 - frozen)
    return {s: w * scale for s, w in weights.items()}
