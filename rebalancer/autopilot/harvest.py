"""Tax-loss harvesting inside the cycle: the pipeline's side of ``portfolios.tax``.

The rules (loss threshold, correlated replacement in the same asset class, the 30-day
wash-sale rule against recent and pending buys) live in the portfolios app's pure tax
engine. Here the cycle:

* :func:`wash_sale_guard` — before trading, stops buying back any symbol *harvested* in
  the last 30 days (buying it back would wash the loss the harvest was for): its extra
  target weight goes to its most correlated allowed peer in the same asset class (or
  stays in cash). An ordinary rebalancing sale at a loss is not guarded: buying it back
  makes a wash sale, which the ledger books (the loss moves into the new shares'
  basis, a deferral), and that costs less than holding something else for a month;
* :func:`tax_aware_trim` — keeps shares whose sale would realize a short-term gain when
  a correlated purchase can be replaced by them, or when the trim is small
  (:func:`portfolios.tax.aware.tax_aware_targets`);
* :func:`harvest_plan` — finds lots worth harvesting against the targets (only where the
  tax saved beats the trading costs and the tracking risk of the swap), moves their
  weight to the replacement, and after trade generation :func:`harvest_tag` marks the
  harvesting sells with their lots and reason.

All of it runs only when the portfolio's tax optimization is on (``TaxConfig.enabled``):
that is the switch of a backtest's or a walk-forward's "TLH on".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

import pandas as pd

from portfolios.tax import (
    HarvestCandidate,
    HarvestSettings,
    TaxRates,
    harvest_candidates,
    harvest_targets_adjust,
    replacement_choose,
    wash_sale_blocked_symbols,
)
from portfolios.tax.aware import tax_aware_targets
from portfolios.trading import ProposedTrade
from rebalancer.autopilot.types import AutonomyConfig, HoldingsState, MarketView

HARVEST_TAG = "tax_loss_harvest"


def _correlations(market: MarketView, frame: pd.DataFrame):
    return None if market.correlated else frame.corr()


def wash_sale_guard(
    *,
    targets: Mapping[str, float],
    current: Mapping[str, float],
    state: HoldingsState,
    market: MarketView,
    config: AutonomyConfig,
    frame: pd.DataFrame,
) -> tuple[dict[str, float], list[str]]:
    """Targets that never buy back a symbol harvested inside its wash-sale window, and what was moved."""
    blocked = wash_sale_blocked_symbols(
        as_of=market.as_of, loss_sales=state.recent_harvests, days=config.tax.wash_sale_days
    )
    out = dict(targets)
    notes: list[str] = []
    correlations = None
    for symbol in sorted(blocked):
        excess = out.get(symbol, 0.0) - current.get(symbol, 0.0)
        if excess <= 0:
            continue
        out[symbol] = current.get(symbol, 0.0)
        if correlations is None:
            correlations = _correlations(market, frame)
        choice = replacement_choose(
            symbol=symbol, asset_classes=market.asset_classes, universe=out.keys() | set(frame.columns),
            correlations=correlations, ranked=market.correlated.get(symbol) if market.correlated else None,
            excluded=blocked | set(config.limits.excluded_symbols),
        )
        if choice is not None:
            out[choice[0]] = out.get(choice[0], 0.0) + excess
            notes.append(f"{symbol} was harvested within 30 days; held {choice[0]} instead (wash-sale rule)")
        else:
            notes.append(f"{symbol} was harvested within 30 days; kept its weight in cash (wash-sale rule)")
    return {s: w for s, w in out.items() if w > 0}, notes


def wash_sale_blocks(guard_notes: list[str], blocked: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """Symbols the wash-sale rule stopped this cycle: purchases :func:`wash_sale_guard` moved
    and harvests :func:`harvest_plan` did not make because of a buy in the window."""
    guarded = [n.split(" ", 1)[0] for n in guard_notes if "(wash-sale rule)" in n]
    return tuple(sorted({*guarded, *(symbol for symbol, why in blocked if "wash" in why)}))


def _rates(config: AutonomyConfig) -> TaxRates:
    return TaxRates(short_term=config.tax.short_term_rate, long_term=config.tax.long_term_rate)


def tax_aware_trim(
    *,
    targets: Mapping[str, float],
    current: Mapping[str, float],
    prices: Mapping[str, float],
    total_value: float,
    state: HoldingsState,
    market: MarketView,
    config: AutonomyConfig,
    frame: pd.DataFrame,
) -> tuple[dict[str, float], list[str]]:
    """Targets that avoid realizing short-term gains where that costs little (see the module)."""
    return tax_aware_targets(
        targets=targets, current=current, lots=state.lots, prices=prices, total_value=total_value,
        as_of=market.as_of, asset_classes=market.asset_classes, band=config.rebalance_threshold,
        correlations=frame.corr(),
        excluded=config.limits.excluded_symbols, rates=_rates(config),
        free_gains=max(0.0, state.loss_carryover - state.realized_this_year),
    )


def _pair_volatility(frame: pd.DataFrame):
    """Annualised volatility of the daily return difference of two symbols (None if unknown)."""
    def volatility(a: str, b: str) -> float | None:
        if a not in frame.columns or b not in frame.columns:
            return None
        diff = (frame[a] - frame[b]).dropna()
        return float(diff.std() * 252**0.5) if len(diff) > 20 else None

    return volatility


def harvest_plan(
    *,
    targets: Mapping[str, float],
    current: Mapping[str, float],
    prices: Mapping[str, float],
    total_value: float,
    state: HoldingsState,
    market: MarketView,
    config: AutonomyConfig,
    frame: pd.DataFrame,
) -> tuple[dict[str, float], tuple[HarvestCandidate, ...], tuple[tuple[str, str], ...]]:
    """Targets with harvested positions swapped to replacements; the candidates; blocked."""
    pending = [s for s, w in targets.items() if w > current.get(s, 0.0) + 1e-9]
    report = harvest_candidates(
        lots=state.lots,
        prices={s: Decimal(str(p)) for s, p in prices.items()},
        as_of=market.as_of,
        asset_classes=market.asset_classes,
        universe=set(frame.columns),
        correlations=_correlations(market, frame),
        ranked_replacements=dict(market.correlated) if market.correlated else None,
        recent_buys=state.recent_buys,
        pending_buys=pending,
        recent_loss_sales=state.recent_loss_sales,
        excluded=config.limits.excluded_symbols,
        settings=HarvestSettings(
            loss_threshold=config.tax.loss_threshold, wash_sale_days=config.tax.wash_sale_days,
            min_correlation=config.tax.min_correlation,
            trade_cost_rate=config.trade.commission_rate + config.trade.slippage_bps / 10_000.0,
            tracking_penalty=config.tax.tracking_penalty, rates=_rates(config),
        ),
        pair_volatility=_pair_volatility(frame),
        budget=Decimal(str(max(0.0, state.realized_this_year - state.loss_carryover + config.tax.loss_deduction_limit))),
    )
    if not report.candidates:
        return dict(targets), (), report.blocked
    adjusted = harvest_targets_adjust(
        target_weights=targets, candidates=report.candidates, total_value=Decimal(str(total_value))
    )
    return adjusted, report.candidates, report.blocked


def harvest_tag(
    trades: list[ProposedTrade], candidates: tuple[HarvestCandidate, ...]
) -> tuple[list[ProposedTrade], float]:
    """Mark the harvesting sells (lots to close, reason); return them and the loss realised."""
    by_symbol = {c.symbol: c for c in candidates}
    out, loss = [], 0.0
    for trade in trades:
        cand = by_symbol.get(trade.symbol)
        if trade.side == "sell" and cand is not None:
            lot_ids = tuple(int(i) for i in cand.lot_ids if i is not None)
            specific = lot_ids if trade.quantity <= cand.quantity and len(lot_ids) == len(cand.lot_ids) else ()
            share = min(Decimal(1), trade.quantity / cand.quantity) if cand.quantity > 0 else Decimal(0)
            loss += float(cand.loss * share)
            trade = replace(trade, lot_ids=specific, tags=(*trade.tags, HARVEST_TAG), reason=cand.reason)
        out.append(trade)
    return out, loss
