"""Tax-loss harvesting with the 30-day wash-sale rule (pure Python, no Django).

A **harvest** sells lots whose unrealized loss exceeds a threshold and buys a
correlated **replacement** in the same asset class, so the exposure stays while the
loss is realized. The **wash-sale rule** (IRC §1091) disallows a loss when
substantially identical securities are bought within 30 days before or after the
sale, so:

* a symbol bought in the last ``wash_sale_days`` (recent buys, lots acquired in the
  window) or about to be bought (pending buys of the same plan) is not harvested;
* a replacement must not itself have been sold at a loss in the window (buying it
  back would wash that earlier loss);
* after a loss sale the symbol is barred from purchase for ``wash_sale_days``
  (:func:`wash_sale_blocked_symbols`).

The rule is applied conservatively: any purchase in the window blocks a harvest, even
one that the harvest itself would sell.

**Harvest only when it pays.** A harvest realizes a loss now (worth the loss times the
rate of its holding period — short-term at the ordinary rate) but costs four trades
(sell, buy the replacement, and later the swap back) and holds a different security for
at least the wash-sale window, whose return differs from the one sold. A candidate is
kept only when ``expected tax saving > trading costs + tracking_penalty x (one standard
deviation of the return difference of the pair over the window) x value``; otherwise it
is reported as not worth it. The tracking term is why harvesting a concentrated
optimizer portfolio rarely pays: its positions are large and their replacements differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from portfolios.tax.lots import DEFAULT_RATES, LotLike, TaxRates, _d, holding_period, holding_start

WASH_SALE_DAYS = 30


@dataclass(frozen=True)
class HarvestSettings:
    """When a loss is worth harvesting and how a replacement is chosen."""

    loss_threshold: float = 0.05
    """Harvest a lot whose unrealized loss exceeds this fraction of its cost."""
    min_loss: Decimal = Decimal("0")
    """And whose loss is at least this much money."""
    wash_sale_days: int = WASH_SALE_DAYS
    """Days before and after a loss sale in which buying the same security washes it."""
    min_correlation: float = 0.8
    """A replacement must correlate at least this much with the harvested symbol."""
    trade_cost_rate: float = 0.0
    """Cost of one trade as a fraction of its value (commission rate + slippage); a harvest
    is four trades."""
    tracking_penalty: float = 1.0
    """Standard deviations of the pair's return difference over the wash-sale window a
    harvest must save in tax on top of its trading costs (0: costs only)."""
    rates: TaxRates = DEFAULT_RATES
    """Rates that value a harvested loss (short-term losses at the short-term rate)."""


@dataclass(frozen=True)
class HarvestCandidate:
    """Lots of ``symbol`` to sell at a loss, and the replacement to buy instead."""

    symbol: str
    lot_ids: tuple[Any, ...]
    quantity: Decimal
    cost: Decimal
    market_value: Decimal
    loss: Decimal
    """Unrealized loss in money, a positive number."""
    replacement: str
    correlation: float | None
    reason: str


@dataclass(frozen=True)
class HarvestReport:
    """Candidates to harvest, and symbols with losses that were not harvested and why."""

    candidates: tuple[HarvestCandidate, ...]
    blocked: tuple[tuple[str, str], ...]
    wash_blocked: tuple[str, ...] = ()
    """Symbols whose harvest the wash-sale rule stopped (a buy in the window, or pending)."""

    @property
    def total_loss(self) -> Decimal:
        return sum((c.loss for c in self.candidates), Decimal(0))


def wash_sale_window(as_of: date, days: int = WASH_SALE_DAYS) -> tuple[date, date]:
    """The dates (inclusive) around a sale on ``as_of`` in which a purchase washes it."""
    return as_of - timedelta(days=days), as_of + timedelta(days=days)


def wash_sale_blocked_symbols(
    *, as_of: date, loss_sales: Iterable[tuple[str, date]], days: int = WASH_SALE_DAYS
) -> set[str]:
    """Symbols that must not be bought on ``as_of``: sold at a loss in the last ``days``."""
    start = as_of - timedelta(days=days)
    return {symbol for symbol, sold_on in loss_sales if start <= sold_on <= as_of}


def _recently_bought(
    *, as_of: date, recent_buys: Iterable[tuple[str, date]], days: int
) -> set[str]:
    start = as_of - timedelta(days=days)
    return {symbol for symbol, on in recent_buys if start <= on <= as_of}


def _correlation(correlations: Any, a: str, b: str) -> float | None:
    """``correlations[a][b]`` for a nested mapping or a pandas DataFrame; None if absent."""
    if correlations is None:
        return None
    try:
        value = correlations[a][b]
    except (KeyError, IndexError, TypeError):
        return None
    value = float(value)
    return None if value != value else value  # NaN → unknown


def replacement_choose(
    *,
    symbol: str,
    asset_classes: Mapping[str, str],
    universe: Iterable[str],
    correlations: Any = None,
    ranked: Sequence[str] | None = None,
    excluded: Iterable[str] = (),
    min_correlation: float = 0.8,
) -> tuple[str, float | None] | None:
    """The best replacement for ``symbol``: same asset class, most correlated, allowed.

    Either ``correlations`` (nested mapping or DataFrame) or ``ranked`` (candidates,
    most correlated first, as the autopilot's ``MarketView.correlated``) is used.
    """
    excluded = set(excluded) | {symbol}
    asset_class = asset_classes.get(symbol)
    if ranked is not None:
        for other in ranked:
            if other not in excluded and asset_classes.get(other) == asset_class:
                return other, _correlation(correlations, symbol, other)
        return None
    best: tuple[str, float | None] | None = None
    for other in sorted(set(universe) - excluded):
        if asset_classes.get(other) != asset_class:
            continue
        corr = _correlation(correlations, symbol, other)
        if corr is None or corr < min_correlation:
            continue
        if best is None or corr > (best[1] or -2.0):
            best = (other, corr)
    return best


def harvest_candidates(
    *,
    lots: Sequence[LotLike],
    prices: Mapping[str, Any],
    as_of: date,
    asset_classes: Mapping[str, str],
    universe: Iterable[str] = (),
    correlations: Any = None,
    ranked_replacements: Mapping[str, Sequence[str]] | None = None,
    recent_buys: Iterable[tuple[str, date]] = (),
    pending_buys: Iterable[str] = (),
    recent_loss_sales: Iterable[tuple[str, date]] = (),
    excluded: Iterable[str] = (),
    settings: HarvestSettings | None = None,
    pair_volatility: Any = None,
    budget: Decimal | None = None,
) -> HarvestReport:
    """Lots worth harvesting on ``as_of`` with their replacements, largest loss first.

    ``lots`` are the open lots; ``prices`` the close per symbol; ``recent_buys``
    (symbol, date) purchases, ``pending_buys`` symbols the same plan buys,
    ``recent_loss_sales`` (symbol, date) earlier loss sales; ``excluded`` symbols may
    not be bought (ESG). Replacements come from ``ranked_replacements[symbol]`` when
    given, else from ``correlations`` over ``universe`` (plus the lots' symbols).
    ``pair_volatility(a, b)`` is the annualised volatility of the daily return difference
    of ``a`` and ``b`` (None when unknown: no tracking term), for the benefit test.
    ``budget`` caps the total loss harvested (the gains of the year it can offset plus the
    yearly deduction): losses nobody can use soon only lower the replacement's basis, so
    they raise later gains more than they save. Lots beyond it are left (largest first).
    """
    settings = settings or HarvestSettings()
    days = settings.wash_sale_days
    acquired = [(lot.symbol, lot.acquired_on) for lot in lots]
    bought = _recently_bought(as_of=as_of, recent_buys=[*recent_buys, *acquired], days=days)
    pending = set(pending_buys)
    loss_sold = wash_sale_blocked_symbols(as_of=as_of, loss_sales=recent_loss_sales, days=days)
    universe = set(universe) | {lot.symbol for lot in lots}
    losing = _losing_lots(lots, prices, settings)

    report = _ReportBuilder()
    used = set(excluded) | loss_sold | set(losing)  # never swap into another harvested symbol
    for symbol in sorted(losing, key=lambda s: (-_lots_loss(losing[s], prices[s]), s)):
        wash = _wash_sale_reason(symbol, bought=bought, pending=pending, days=days)
        if wash is not None:
            report.block(symbol, wash, wash_sale=True)
            continue
        choice = replacement_choose(
            symbol=symbol,
            asset_classes=asset_classes,
            universe=universe,
            correlations=correlations,
            ranked=None if ranked_replacements is None else ranked_replacements.get(symbol, ()),
            excluded=used - {symbol},
            min_correlation=settings.min_correlation,
        )
        if choice is None:
            report.block(symbol, f"no allowed correlated replacement for {symbol} in its asset class")
            continue
        replacement, corr = choice
        chosen = _lots_within_budget(losing[symbol], prices[symbol], budget, report.candidates)
        if not chosen:
            report.block(symbol, f"the year's gains and deduction leave no room to use a loss on {symbol}")
            continue
        worth, why = harvest_worth(
            lots=chosen, price=_d(prices[symbol]), as_of=as_of, settings=settings,
            pair_volatility=pair_volatility(symbol, replacement) if pair_volatility is not None else None,
        )
        if not worth:
            report.block(symbol, f"harvesting {symbol} does not pay: {why}")
            continue
        used.add(replacement)
        report.candidates.append(_candidate(symbol, chosen, _d(prices[symbol]), replacement, corr))
    return report.build()


def _losing_lots(
    lots: Sequence[LotLike], prices: Mapping[str, Any], settings: HarvestSettings
) -> dict[str, list[LotLike]]:
    """Open, priced lots under cost by more than the threshold and the minimum loss, by symbol."""
    threshold = Decimal(str(settings.loss_threshold))
    losing: dict[str, list[LotLike]] = {}
    for lot in lots:
        qty = _d(lot.quantity)
        price = prices.get(lot.symbol)
        if qty <= 0 or price is None:
            continue
        cost = qty * _d(lot.cost_per_share)
        loss = cost - qty * _d(price)
        if cost > 0 and loss > 0 and loss / cost > threshold and loss >= settings.min_loss:
            losing.setdefault(lot.symbol, []).append(lot)
    return losing


def _lot_loss(lot: LotLike, price: Any) -> Decimal:
    return _d(lot.quantity) * (_d(lot.cost_per_share) - _d(price))


def _lots_loss(lots: Iterable[LotLike], price: Any) -> Decimal:
    return sum((_lot_loss(lot, price) for lot in lots), Decimal(0))


def _wash_sale_reason(symbol: str, *, bought: set[str], pending: set[str], days: int) -> str | None:
    """Why selling ``symbol`` at a loss now would be a wash sale (None: it would not)."""
    if symbol in bought:
        return f"{symbol} was bought in the last {days} days (wash-sale rule)"
    if symbol in pending:
        return f"this plan buys {symbol}; selling it at a loss would be a wash sale"
    return None


def _lots_within_budget(
    lots: Sequence[LotLike], price: Any, budget: Decimal | None, taken: Sequence[HarvestCandidate]
) -> list[LotLike]:
    """The lots to harvest, costliest (then latest) first: all of them without a budget, else
    those whose losses fit in what the candidates ``taken`` so far leave of it."""
    chosen = sorted(lots, key=lambda lot: (_d(lot.cost_per_share), lot.acquired_on), reverse=True)
    if budget is None:
        return chosen
    left = budget - sum((c.loss for c in taken), Decimal(0))
    fitting = []
    for lot in chosen:
        lot_loss = _lot_loss(lot, price)
        if lot_loss <= left:
            fitting.append(lot)
            left -= lot_loss
    return fitting


def _candidate(
    symbol: str, lots: Sequence[LotLike], price: Decimal, replacement: str, corr: float | None
) -> HarvestCandidate:
    qty = sum((_d(lot.quantity) for lot in lots), Decimal(0))
    cost = sum((_d(lot.quantity) * _d(lot.cost_per_share) for lot in lots), Decimal(0))
    value = qty * price
    loss = cost - value
    corr_text = f" (correlation {corr:.2f})" if corr is not None else ""
    return HarvestCandidate(
        symbol=symbol,
        lot_ids=tuple(lot.lot_id for lot in lots),
        quantity=qty,
        cost=cost,
        market_value=value,
        loss=loss,
        replacement=replacement,
        correlation=corr,
        reason=(
            f"Harvest a {float(loss):,.2f} loss on {symbol} ({float(loss / cost) * 100:.1f}% below cost) "
            f"and keep the exposure through {replacement}{corr_text}, same asset class."
        ),
    )


@dataclass
class _ReportBuilder:
    """The report as the symbols are judged, largest loss first."""

    candidates: list[HarvestCandidate] = field(default_factory=list)
    blocked: list[tuple[str, str]] = field(default_factory=list)
    wash_blocked: list[str] = field(default_factory=list)

    def block(self, symbol: str, reason: str, *, wash_sale: bool = False) -> None:
        self.blocked.append((symbol, reason))
        if wash_sale:
            self.wash_blocked.append(symbol)

    def build(self) -> HarvestReport:
        return HarvestReport(
            candidates=tuple(self.candidates), blocked=tuple(self.blocked), wash_blocked=tuple(self.wash_blocked)
        )


def harvest_worth(
    *, lots: Sequence[LotLike], price: Decimal, as_of: date, settings: HarvestSettings, pair_volatility: float | None
) -> tuple[bool, str]:
    """Whether harvesting ``lots`` at ``price`` pays (see the module docstring), and the numbers."""
    saving = 0.0
    value = 0.0
    for lot in lots:
        qty = float(_d(lot.quantity))
        loss = qty * (float(_d(lot.cost_per_share)) - float(price))
        saving += max(0.0, loss) * settings.rates.rate(holding_period(holding_start(lot), as_of))
        value += qty * float(price)
    costs = 4 * settings.trade_cost_rate * value
    tracking = (
        settings.tracking_penalty * pair_volatility * (settings.wash_sale_days / 365.0) ** 0.5 * value
        if pair_volatility is not None
        else 0.0
    )
    why = f"saves about {saving:,.2f} in tax against {costs:,.2f} of trading costs and {tracking:,.2f} of tracking risk"
    return saving > costs + tracking, why


def harvest_targets_adjust(
    *,
    target_weights: Mapping[str, float],
    candidates: Iterable[HarvestCandidate],
    total_value: Decimal,
) -> dict[str, float]:
    """Targets with each harvested position's value moved to its replacement.

    The harvested symbol's target drops by the harvested lots' weight (never below 0)
    and the replacement's rises by the same amount, so the total exposure is unchanged.
    """
    weights = {s: float(w) for s, w in target_weights.items()}
    if total_value <= 0:
        return weights
    for cand in candidates:
        fraction = float(cand.market_value / total_value)
        moved = min(weights.get(cand.symbol, 0.0), fraction)
        weights[cand.symbol] = weights.get(cand.symbol, 0.0) - moved
        weights[cand.replacement] = weights.get(cand.replacement, 0.0) + moved
    return {s: w for s, w in weights.items() if w > 0}
