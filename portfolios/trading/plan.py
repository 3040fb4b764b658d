"""A tax-aware rebalance plan: targets → trades, with loss harvesting and wash-sale guards.

:func:`rebalance_plan` composes :func:`~portfolios.trading.engine.trades_generate` and
:mod:`portfolios.tax`: symbols sold at a loss in the wash-sale window are not bought
back (their targets are capped at the current weight); when harvesting is on, losing
lots of symbols the plan does not buy are sold and their weight moved to a correlated
replacement; harvested sells name their lots (highest cost first) so the ledger
realizes exactly the harvested losses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from portfolios.tax.harvest import (
    HarvestReport,
    HarvestSettings,
    harvest_candidates,
    harvest_targets_adjust,
    wash_sale_blocked_symbols,
)
from portfolios.tax.lots import LotLike
from portfolios.trading.costs import BUY, SELL
from portfolios.trading.engine import (
    ProposedTrade,
    TradeSettings,
    portfolio_value,
    trades_generate,
    weights_current,
)

HARVEST_TAG = "tax_loss_harvest"
REPLACEMENT_TAG = "harvest_replacement"


@dataclass(frozen=True)
class RebalancePlan:
    """The trades of one rebalance, the targets they aim at, and the tax decisions."""

    trades: tuple[ProposedTrade, ...]
    target_weights: Mapping[str, float]
    harvest: HarvestReport | None
    wash_sale_capped: tuple[str, ...]
    """Symbols whose buys were blocked by the wash-sale rule."""


def rebalance_plan(
    *,
    quantities: Mapping[str, Decimal],
    prices: Mapping[str, Decimal],
    cash: Decimal,
    target_weights: Mapping[str, float],
    settings: TradeSettings,
    as_of: date,
    lots: Sequence[LotLike] = (),
    harvest: HarvestSettings | None = None,
    asset_classes: Mapping[str, str] | None = None,
    correlations: Any = None,
    ranked_replacements: Mapping[str, Sequence[str]] | None = None,
    recent_buys: Iterable[tuple[str, date]] = (),
    recent_loss_sales: Iterable[tuple[str, date]] = (),
    excluded: Iterable[str] = (),
) -> RebalancePlan:
    """Trades from the holdings to ``target_weights``; harvest losses when ``harvest`` is set.

    ``prices`` must cover the held and targeted symbols and any replacement candidate.
    """
    recent_loss_sales = list(recent_loss_sales)
    days = harvest.wash_sale_days if harvest else 30
    barred = wash_sale_blocked_symbols(as_of=as_of, loss_sales=recent_loss_sales, days=days)
    current = weights_current(quantities=quantities, prices=prices, cash=cash)
    targets = dict(target_weights)
    capped = tuple(sorted(s for s in barred if targets.get(s, 0.0) > current.get(s, 0.0)))
    for symbol in capped:
        targets[symbol] = current.get(symbol, 0.0)

    trades = trades_generate(
        quantities=quantities, prices=prices, cash=cash, target_weights=targets, settings=settings
    )
    if harvest is None or not lots:
        return RebalancePlan(tuple(trades), targets, None, capped)

    report = harvest_candidates(
        lots=lots,
        prices=prices,
        as_of=as_of,
        asset_classes=asset_classes or {},
        universe=[s for s in prices if s not in barred],
        correlations=correlations,
        ranked_replacements=ranked_replacements,
        recent_buys=recent_buys,
        pending_buys={t.symbol for t in trades if t.side == BUY},
        recent_loss_sales=recent_loss_sales,
        excluded=excluded,
        settings=harvest,
    )
    if not report.candidates:
        return RebalancePlan(tuple(trades), targets, report, capped)
    total = portfolio_value(quantities=quantities, prices=prices, cash=cash)
    harvested_targets = harvest_targets_adjust(
        target_weights=targets, candidates=report.candidates, total_value=total
    )
    trades = trades_generate(
        quantities=quantities,
        prices=prices,
        cash=cash,
        target_weights=harvested_targets,
        settings=settings,
    )
    return RebalancePlan(tuple(_label(trades, report)), harvested_targets, report, capped)


def _label(trades: list[ProposedTrade], report: HarvestReport) -> list[ProposedTrade]:
    by_symbol = {c.symbol: c for c in report.candidates}
    by_replacement = {c.replacement: c for c in report.candidates}
    out = []
    for trade in trades:
        cand = by_symbol.get(trade.symbol)
        if trade.side == SELL and cand is not None:
            trade = replace(
                trade,
                lot_ids=tuple(cand.lot_ids),
                tags=(*trade.tags, HARVEST_TAG),
                reason=f"{trade.reason} {cand.reason}",
            )
        elif trade.side == BUY and trade.symbol in by_replacement:
            source = by_replacement[trade.symbol]
            trade = replace(
                trade,
                tags=(*trade.tags, REPLACEMENT_TAG),
                reason=f"{trade.reason} Replaces {source.symbol}, sold to harvest a tax loss.",
            )
        out.append(trade)
    return out
