"""The pure decision core of the autonomous cycle (no Django, no database).

:func:`cycle_decide` runs DESIGN.md's steps 1-5 and 7 for one portfolio on one as-of
date; step 6 (execution) belongs to the DB shell (:mod:`rebalancer.autopilot.services`)
or to the backtester's simulated broker. The same function drives production, the
backtests and ``rebalance/predict``:

1. **data** — refuse to decide when a held or target asset's price is stale, suspect or
   missing (``action="skipped"`` with the reason); the kill switch in ``halt`` mode
   also skips;
2. **triggers** — drift, calendar, cash to invest, risk-limit breach (VaR, drawdown),
   regime change; no trigger, no trade (``action="hold"``);
3. **strategy** — target weights from the registry, shared through ``targets_cache``
   by every portfolio with the same strategy, universe, risk tier and as-of date;
4. **risk checks and override** — the kill switch in ``defensive`` mode, a VaR or
   drawdown breach, or failed pre-trade checks replace the targets by the defensive
   allocation; a turnover-only failure moves part of the way instead;
5. **trades** — ``portfolios.trading.trades_generate`` (sells first, minimum value,
   costs, cash buffer, whole or fractional shares), plus tax-loss harvesting when on;
7. **explain** — before/after metrics, every check's numbers, a plain-language summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

from portfolios.strategies import (
    StrategyContext,
    StrategyError,
    StrategyResult,
    shared_target_key,
    strategy_get,
)
from portfolios.trading import ProposedTrade, TradeGenerationError, TradeSettings, trades_generate
from rebalancer.autopilot import explain, harvest, triggers
from rebalancer.autopilot.checks import checks_run, turnover_of
from rebalancer.autopilot.metrics import WindowStats, drawdown, metrics_of, window_stats
from rebalancer.autopilot.types import (
    AutonomyConfig,
    Check,
    CycleDecision,
    HoldingsState,
    KillSwitchMode,
    MarketView,
    Override,
    RegimeState,
    RiskLimits,
    TargetsCache,
    TradeIntent,
    Trigger,
)

DUST = 1e-9


def _status(symbol: str, market: MarketView) -> tuple[str, tuple[str, ...]]:
    health = market.health.get(symbol)
    if health is not None and health.status != "ok":
        return health.status, health.reasons
    price = market.prices.get(symbol)
    if price is None or not price > 0:
        return "missing", (f"no close for {symbol} on {market.as_of.isoformat()}",)
    return "ok", ()


def data_problems(symbols: set[str], market: MarketView) -> list[str]:
    """One sentence per symbol whose data is not ``ok`` (sorted, for a stable record)."""
    problems = []
    for symbol in sorted(symbols):
        status, reasons = _status(symbol, market)
        if status != "ok":
            why = "; ".join(reasons) if reasons else "no detail"
            problems.append(f"{symbol} is {status} ({why})")
    return problems


def universe_of(state: HoldingsState, config: AutonomyConfig) -> tuple[str, ...]:
    """Symbols the strategy may hold, minus excluded ones, sorted (part of the shared key)."""
    if config.universe:
        symbols = set(config.universe)
    else:
        symbols = {s for s, q in state.quantities.items() if q > 0} | {
            s for s, w in config.target_weights.items() if w > 0
        }
    return tuple(sorted(symbols - set(config.limits.excluded_symbols)))


def effective_limits(limits: RiskLimits, n_symbols: int, n_classes: int) -> RiskLimits:
    """Concentration limits loosened just enough to be satisfiable by a small universe."""
    max_position = limits.max_position
    if max_position is not None and n_symbols > 0:
        max_position = max(max_position, 1.0 / n_symbols)
    max_class = limits.max_asset_class
    if max_class is not None and n_classes > 0:
        max_class = max(max_class, 1.0 / n_classes)
    return replace(limits, max_position=max_position, max_asset_class=max_class)


def _constraints(config: AutonomyConfig, limits: RiskLimits, market: MarketView, symbols):
    if config.constraints is not None:
        return config.constraints
    from portfolios.optimization import Constraints

    classes = {s: market.asset_classes.get(s, "unknown") for s in symbols}
    present = set(classes.values())
    class_max = _class_caps(limits, classes)
    class_min = {}
    # The optimizer fills the whole portfolio; the targets keep the cash buffer out of
    # it afterwards (_scaled), so a lowest class weight is asked of the optimizer grossed up.
    invested = 1.0 - config.trade.cash_buffer
    for asset_class, lowest, _ in limits.asset_class_bounds:
        if asset_class in present and lowest > 0:
            class_min[asset_class] = min(1.0, lowest / invested)
    return Constraints(
        max_position=limits.max_position,
        max_holdings=limits.max_holdings if limits.max_holdings and limits.max_holdings < len(symbols) else None,
        asset_classes=classes,
        asset_class_min=class_min,
        asset_class_max=class_max,
        cash_buffer=0.0,
    )


def _stats(market: MarketView, symbols: tuple[str, ...], lookback: int, cache: TargetsCache | None) -> WindowStats:
    key = ("__window__", market.as_of, symbols, lookback, id(market.returns))
    if cache is not None and key in cache:
        return cache[key]  # type: ignore[return-value]
    stats = window_stats(market.returns, symbols, lookback)
    if cache is not None:
        cache[key] = stats  # type: ignore[assignment]
    return stats


def strategy_targets(
    *,
    name: str,
    symbols: tuple[str, ...],
    stats: WindowStats,
    market: MarketView,
    config: AutonomyConfig,
    limits: RiskLimits,
    current: Mapping[str, float],
    regime: RegimeState | None,
    cache: TargetsCache | None,
) -> StrategyResult:
    """Targets of strategy ``name``, computed once per shared key within a cycle."""
    strategy = strategy_get(name)
    ctx = StrategyContext(
        as_of=market.as_of,
        symbols=symbols,
        returns=stats.frame,
        current_weights=dict(current),
        risk_tier=config.risk_tier,
        constraints=_constraints(config, limits, market, symbols),
        regime=regime,
        asset_classes={s: market.asset_classes.get(s, "unknown") for s in symbols},
        options={"target_weights": dict(config.target_weights)},
    )
    per_portfolio = bool(getattr(strategy, "per_portfolio", False))
    key = shared_target_key(ctx, name) + (
        config.lookback_days,
        repr(config.constraints),
        limits.max_position,
        limits.max_asset_class,
        limits.max_holdings,
        limits.asset_class_bounds,
        config.trade.cash_buffer if limits.asset_class_bounds else None,
        regime.regime if regime else None,
    )
    if cache is not None and not per_portfolio and key in cache:
        return cache[key]
    result = strategy.target_weights(ctx)
    if cache is not None and not per_portfolio and not result.details.get("per_portfolio"):
        cache[key] = result
    return result


DEFENSIVE_TOLERANCE = 0.05
"""Largest weight deviation (cash included) at which a portfolio counts as defensive."""


def _within(current: Mapping[str, float], targets: Mapping[str, float], tolerance: float) -> bool:
    """Every weight, and the cash weight, within ``tolerance`` of the targets."""
    symbols = set(current) | set(targets)
    cash_gap = abs(sum(current.values()) - sum(targets.values()))
    return cash_gap <= tolerance and all(
        abs(current.get(s, 0.0) - targets.get(s, 0.0)) <= tolerance for s in symbols
    )


def _scaled(weights: Mapping[str, float], invested: float) -> dict[str, float]:
    """Weights scaled so that they sum to at most ``invested`` (the rest is cash)."""
    total = sum(w for w in weights.values() if w > 0)
    factor = invested / total if total > invested and total > 0 else 1.0
    return {s: w * factor for s, w in weights.items() if w * factor > DUST}


def holdings_capped(
    weights: Mapping[str, float],
    max_holdings: int | None,
    max_position: float | None,
    *,
    classes: Mapping[str, str] | None = None,
    class_max: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """At most ``max_holdings`` positions, for strategies that do not take the limit themselves.

    Keeps the largest weights and scales them up to the same invested total, none above
    ``max_position``; equal weights are taken round-robin across asset classes (the
    first of each class, then the second...; then symbol order), so that a tie such as
    equal weight does not fill the portfolio with one class. An asset class that then
    holds more than its ``class_max`` is scaled down to it. What cannot be placed stays
    in cash. Weights already within the limit come back unchanged (optimizers solve
    with it).
    """
    held = {s: w for s, w in weights.items() if w > DUST}
    if max_holdings is None or len(held) <= max_holdings:
        return dict(weights)
    classes = classes or {}
    rank: dict[str, int] = {}
    seen: dict[str, int] = {}
    for symbol, _ in sorted(held.items(), key=lambda item: (-item[1], item[0])):
        asset_class = classes.get(symbol, "unknown")
        rank[symbol] = seen.get(asset_class, 0)
        seen[asset_class] = rank[symbol] + 1
    kept = sorted(held.items(), key=lambda item: (-item[1], rank[item[0]], item[0]))[:max_holdings]
    factor = sum(held.values()) / sum(w for _, w in kept)
    cap = 1.0 if max_position is None else max_position
    out = {s: min(w * factor, cap) for s, w in kept}
    for asset_class, limit in (class_max or {}).items():
        members = [s for s in out if classes.get(s, "unknown") == asset_class]
        total = sum(out[s] for s in members)
        if limit > 0 and total > limit:
            for s in members:
                out[s] *= limit / total
    return out


def _class_caps(limits: RiskLimits, classes: Mapping[str, str]) -> dict[str, float]:
    """The highest weight of each present asset class (``max_asset_class`` and the bounds)."""
    present = set(classes.values())
    caps = {c: limits.max_asset_class for c in present} if limits.max_asset_class is not None else {}
    for asset_class, _, highest in limits.asset_class_bounds:
        if asset_class in present:
            caps[asset_class] = min(caps.get(asset_class, 1.0), highest)
    return caps


def _defensive(
    *, kill_switch: KillSwitchMode, symbols, stats, market, config, limits, current, regime, cache
) -> tuple[dict[str, float], str]:
    """The defensive allocation: min volatility on (1 - defensive_cash), the rest cash."""
    invested = 1.0 - config.defensive_cash
    try:
        result = strategy_targets(
            name=config.defensive_strategy, symbols=symbols, stats=stats, market=market,
            config=replace(config, constraints=None), limits=limits, current=current,
            regime=regime, cache=cache,
        )
    except StrategyError:
        return {}, "all cash (the defensive strategy could not run on this history)"
    label = f"{config.defensive_strategy} with {config.defensive_cash:.0%} in cash"
    classes = {s: market.asset_classes.get(s, "unknown") for s in symbols}
    capped = holdings_capped(
        _scaled(result.weights, invested), limits.max_holdings, limits.max_position,
        classes=classes, class_max=_class_caps(limits, classes),
    )
    return capped, label


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
        cash_buffer=Decimal(str(t.cash_buffer)),
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

    Never raises for bad market data or a failing strategy: those become a
    ``skipped`` decision carrying the reason. Raises ``KeyError``-free; unusable
    holdings (negative quantities) raise :class:`TradeGenerationError`.
    """
    as_of = market.as_of
    held = {s: float(q) for s, q in state.quantities.items() if float(q) > DUST}
    if kill_switch == "halt":
        return _decision(
            as_of=as_of, action="skipped",
            triggers=(Trigger(kind="kill_switch", message="the operator halted autonomous trading"),),
            skipped_reason="Autonomous trading is halted by the operator (kill switch); nothing was traded.",
        )
    symbols = universe_of(state, config)
    problems = data_problems(set(held) | set(symbols), market)
    if problems:
        return _decision(
            as_of=as_of, action="skipped",
            skipped_reason="Market data is not reliable today, so nothing was traded: "
            + "; ".join(problems) + ".",
        )
    prices = {s: float(market.prices[s]) for s in set(held) | set(symbols)}
    total = float(state.cash) + sum(q * prices[s] for s, q in held.items())
    if total <= 0:
        return _decision(as_of=as_of, action="skipped", skipped_reason="The portfolio is empty.")
    current = {s: q * prices[s] / total for s, q in held.items()}
    stat_symbols = tuple(sorted(set(held) | set(symbols)))
    stats = _stats(market, stat_symbols, config.lookback_days, targets_cache)
    class_of = {s: market.asset_classes.get(s, "unknown") for s in symbols}
    limits = effective_limits(config.limits, len(symbols), len(set(class_of.values())))
    before = metrics_of(current, stats)
    common = dict(as_of=as_of, before=before, current_weights=current, total_value=total)

    # Step 3 comes before the drift trigger: drift is measured against today's targets.
    try:
        result = strategy_targets(
            name=config.strategy, symbols=symbols, stats=stats, market=market, config=config,
            limits=limits, current=current, regime=regime, cache=targets_cache,
        )
    except StrategyError as exc:
        return _decision(
            action="skipped", strategy=config.strategy,
            skipped_reason=f"The strategy {config.strategy} could not propose targets: {exc}",
            **common,
        )
    invested = 1.0 - config.trade.cash_buffer
    targets = holdings_capped(
        _scaled(result.weights, invested), limits.max_holdings, limits.max_position,
        classes=class_of, class_max=_class_caps(limits, class_of),
    )

    risk_fired = triggers.risk_limit_triggers(
        var_95=before.var_95, drawdown=drawdown(state.value_history), limits=config.limits
    )
    fired = [
        t
        for t in (
            triggers.drift_trigger(current, targets, config.rebalance_threshold),
            triggers.calendar_trigger(as_of, config.calendar, market.trading_days),
            triggers.cash_trigger(
                float(state.cash), total, max(0.0, 1.0 - sum(targets.values())), config.trade.min_trade_value
            ),
            *risk_fired,
            triggers.regime_trigger(regime),
        )
        if t is not None
    ]
    if kill_switch == "defensive":
        fired.insert(0, Trigger(kind="kill_switch", message="the operator switched every portfolio to the defensive allocation"))
    if config.force and not fired:
        fired.append(Trigger(kind="manual", message="a rebalance was requested"))
    if not fired:
        return _decision(
            action="hold", strategy=result.strategy, strategy_result=result,
            target_weights=targets, confidence=result.confidence, **common,
        )

    override = None
    if kill_switch == "defensive" or risk_fired:
        source = "kill_switch" if kill_switch == "defensive" else risk_fired[0].kind
        reason = fired[0].message if kill_switch == "defensive" else risk_fired[0].message
        targets, label = _defensive(
            kill_switch=kill_switch, symbols=symbols, stats=stats, market=market, config=config,
            limits=limits, current=current, regime=regime, cache=targets_cache,
        )
        override = Override(reason=reason, source=source, allocation=label)
        if _within(current, targets, min(config.rebalance_threshold, DEFENSIVE_TOLERANCE)):
            # A breach (a drawdown) can last for weeks; once the portfolio sits on the
            # defensive allocation, re-applying it daily only trades noise and costs.
            return _decision(
                action="hold", triggers=tuple(fired), strategy=result.strategy,
                strategy_result=result, target_weights=targets, override=override,
                confidence=1.0,
                notes=("the portfolio already holds the defensive allocation",), **common,
            )
    checks = checks_run(
        current=current, proposed=targets, returns=stats.frame, limits=limits,
        asset_classes=market.asset_classes, cache=targets_cache,
    )
    failed = [c for c in checks if not c.passed]
    if failed and override is None:
        if all(c.name == "turnover" for c in failed) and limits.max_turnover:
            # Moving part of the way keeps the direction and respects the cap.
            step = limits.max_turnover / max(turnover_of(current, targets), DUST) * 0.999
            targets = {
                s: current.get(s, 0.0) + step * (targets.get(s, 0.0) - current.get(s, 0.0))
                for s in set(current) | set(targets)
            }
            targets = {s: w for s, w in targets.items() if w > DUST}
            checks = checks + (
                Check(
                    name="turnover_partial", passed=True, value=step, limit=1.0,
                    message=f"moved {step:.0%} of the way to the targets to respect the turnover cap",
                ),
            )
        else:
            names = ", ".join(c.name for c in failed)
            targets, label = _defensive(
                kill_switch=kill_switch, symbols=symbols, stats=stats, market=market,
                config=config, limits=limits, current=current, regime=regime, cache=targets_cache,
            )
            override = Override(
                reason=f"the strategy's targets failed the pre-trade checks ({names})",
                source="pre_trade", allocation=label,
            )
            checks = checks + tuple(
                replace(c, name=f"defensive:{c.name}")
                for c in checks_run(
                    current=current, proposed=targets, returns=stats.frame, limits=limits,
                    asset_classes=market.asset_classes, cache=targets_cache,
                )
            )

    harvest_notes: list[str] = []
    candidates: tuple = ()
    wash_blocks: tuple[str, ...] = ()
    if config.tax.enabled:  # tax-aware trading and loss harvesting (rebalancer.autopilot.harvest)
        targets, harvest_notes = harvest.wash_sale_guard(
            targets=targets, current=current, state=state, market=market, config=config,
            frame=stats.frame,
        )
        targets, trim_notes = harvest.tax_aware_trim(
            targets=targets, current=current, prices=prices, total_value=total, state=state,
            market=market, config=config, frame=stats.frame,
        )
        wash_blocks = harvest.wash_sale_blocks(harvest_notes, ())
        harvest_notes += trim_notes
        targets, candidates, blocked = harvest.harvest_plan(
            targets=targets, current=current, prices=prices, total_value=total, state=state,
            market=market, config=config, frame=stats.frame,
        )
        wash_blocks = tuple(sorted({*wash_blocks, *harvest.wash_sale_blocks([], blocked)}))
        harvest_notes += [why for _, why in blocked]
    try:
        proposed = trades_generate(
            quantities={s: Decimal(str(q)) for s, q in held.items()},
            prices={s: Decimal(str(p)) for s, p in prices.items()},
            cash=Decimal(str(state.cash)),
            target_weights=targets,
            settings=trade_settings(config),
        )
    except TradeGenerationError as exc:
        return _decision(
            action="skipped", strategy=result.strategy, strategy_result=result,
            target_weights=targets, checks=checks, override=override, triggers=tuple(fired),
            skipped_reason=f"Trades could not be generated: {exc}", **common,
        )
    harvested_loss = 0.0
    if candidates:
        proposed, harvested_loss = harvest.harvest_tag(proposed, candidates)
    intents = tuple(_to_intent(t) for t in proposed)
    after = metrics_of(weights_after(state, prices, intents), stats)
    confidence = 1.0 if override else float(result.confidence)
    return _decision(
        action="rebalance" if intents else "hold",
        triggers=tuple(fired), strategy=result.strategy, strategy_result=result,
        target_weights=targets, checks=checks, override=override, trades=intents,
        after=after, confidence=confidence, harvested_loss=harvested_loss,
        notes=tuple(harvest_notes), wash_sale_blocks=wash_blocks, **common,
    )
