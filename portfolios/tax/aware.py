"""Tax-aware trimming: targets that avoid realizing short-term gains (pure, no Django).

A rebalance that trims a position sells its lots in tax-minimizing order (losses, then
long-term gains first — :data:`portfolios.tax.TAX_MIN`). When the trim still reaches lots
with a **short-term gain** (taxed at the ordinary rate), :func:`tax_aware_targets`
changes the targets before any order is made:

1. **substitute** — if a same-class, correlated symbol is to be *bought* (it is under its
   target), that much of its purchase is replaced by keeping the shares that would have
   realized the short-term gain (the exposure is the same; no gain, two trades fewer).
   This is what unwinds a harvest's replacement tax-efficiently: the replacement is kept
   in lieu of the original until selling it is no longer a short-term gain;
2. **small drift** — if the position's drift (current minus target weight) is within
   ``band`` (the rebalance threshold: the trim is not what triggered the rebalance) and the
   short-term lots turn long-term within ``defer_days``, those shares wait for their
   anniversary (the gain is then taxed at the long-term rate), funded by buying
   correspondingly less of the symbols the plan buys. Deferring longer was measured to
   cost more than it saves on real data: a rebalancing strategy sells the kept winners
   later anyway, at a larger gain (see docs/benchmarks/tax.md).

A short-term gain that the year's losses (realized, or carried over) absorb costs no
tax, so ``free_gains`` of them are realized as targeted (in a year of net losses
deferring them would only move them to a year that taxes them). Excluded symbols (ESG,
operator) are always sold. Weights are fractions of total value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from portfolios.tax.harvest import _correlation
from portfolios.tax.lots import (
    DEFAULT_RATES,
    SHORT,
    TAX_MIN,
    LotLike,
    TaxRates,
    _d,
    holding_period,
    holding_start,
    lots_order,
)

DUST = 1e-9


def _short_term_gains(
    lots: Sequence[LotLike], price: float, as_of: date, quantity: float, rates: TaxRates,
    soon: date | None = None,
) -> tuple[float, float, float]:
    """(shares, gain, shares turning long-term by ``soon``) of a sale of ``quantity``
    (tax-minimizing order) that come from short-term gain lots."""
    left = quantity
    shares = gain_total = ripening = 0.0
    for lot in lots_order(lots, TAX_MIN, price=Decimal(str(price)), sold_on=as_of, rates=rates):
        if left <= DUST:
            break
        take = min(float(_d(lot.quantity)), left)
        gain = price - float(_d(lot.cost_per_share))
        if gain > 0 and holding_period(holding_start(lot), as_of) == SHORT:
            shares += take
            gain_total += take * gain
            if soon is not None and holding_period(holding_start(lot), soon) != SHORT:
                ripening += take
        left -= take
    return shares, gain_total, ripening


def tax_aware_targets(
    *,
    targets: Mapping[str, float],
    current: Mapping[str, float],
    lots: Sequence[LotLike],
    prices: Mapping[str, float],
    total_value: float,
    as_of: date,
    asset_classes: Mapping[str, str],
    band: float,
    correlations: Any = None,
    excluded: Iterable[str] = (),
    min_correlation: float = 0.8,
    rates: TaxRates = DEFAULT_RATES,
    free_gains: float = 0.0,
    defer_days: int = 60,
) -> tuple[dict[str, float], list[str]]:
    """Targets that realize fewer short-term gains, and one note per change (see the module)."""
    out = {s: float(w) for s, w in targets.items()}
    if total_value <= 0:
        return out, []
    excluded = set(excluded)
    by_symbol: dict[str, list[LotLike]] = {}
    for lot in lots:
        by_symbol.setdefault(lot.symbol, []).append(lot)
    notes: list[str] = []
    kept: dict[str, float] = {}
    for symbol in sorted(current):
        excess = current[symbol] - out.get(symbol, 0.0)
        price = prices.get(symbol)
        if excess <= DUST or symbol in excluded or not price or symbol not in by_symbol:
            continue
        st_shares, st_gain, ripening = _short_term_gains(
            by_symbol[symbol], price, as_of, excess * total_value / price, rates, as_of + timedelta(days=defer_days)
        )
        st_weight = st_shares * price / total_value
        if st_weight <= DUST:
            continue
        if st_gain <= free_gains:  # the year's losses absorb it: no tax to avoid
            free_gains -= st_gain
            continue
        partners = _substitutes(
            out, current, symbol, asset_classes=asset_classes, correlations=correlations, excluded=excluded
        )
        st_weight = _keep_instead_of_buying(out, current, symbol, st_weight, partners, min_correlation, notes)
        deferred = min(st_weight, ripening * price / total_value)
        if deferred > DUST and excess <= band:
            kept[symbol] = deferred
    _defer_funded_by_buys(out, current, kept, defer_days, notes)
    return {s: w for s, w in out.items() if w > DUST}, notes


def _substitutes(
    out: Mapping[str, float],
    current: Mapping[str, float],
    symbol: str,
    *,
    asset_classes: Mapping[str, str],
    correlations: Any,
    excluded: set[str],
) -> list[tuple[float, str]]:
    """(correlation, symbol) of the symbols to be bought that could stand in for ``symbol``:
    same asset class, not excluded; most correlated first (unknown correlations count 0)."""
    return sorted(
        (
            (_correlation(correlations, symbol, other) or 0.0, other)
            for other, w in out.items()
            if other != symbol and w > current.get(other, 0.0) + DUST
            and asset_classes.get(other) == asset_classes.get(symbol) and other not in excluded
        ),
        reverse=True,
    )


def _keep_instead_of_buying(
    out: dict[str, float],
    current: Mapping[str, float],
    symbol: str,
    st_weight: float,
    partners: Sequence[tuple[float, str]],
    min_correlation: float,
    notes: list[str],
) -> float:
    """Move up to ``st_weight`` of the partners' purchases to keeping ``symbol`` (rule 1), in
    ``out``; the short-term gain weight left to sell."""
    for corr, partner in partners:
        if st_weight <= DUST or corr < min_correlation:
            break
        moved = min(st_weight, out[partner] - current.get(partner, 0.0))
        out[partner] -= moved
        out[symbol] = out.get(symbol, 0.0) + moved
        st_weight -= moved
        notes.append(
            f"kept {moved:.1%} of the portfolio in {symbol} instead of buying {partner} (correlation "
            f"{corr:.2f}): selling it now would realize a short-term gain"
        )
    return st_weight


def _defer_funded_by_buys(
    out: dict[str, float], current: Mapping[str, float], kept: Mapping[str, float], defer_days: int, notes: list[str]
) -> None:
    """Keep the ``kept`` weights (rule 2) in ``out``, funded by buying less of every symbol the
    plan buys, pro rata; when the buys are smaller than the kept weights, each is kept in part."""
    kept_total = 0.0
    for weight in kept.values():
        kept_total += weight
    if kept_total <= DUST:
        return
    buys = {s: w - current.get(s, 0.0) for s, w in out.items() if w > current.get(s, 0.0) + DUST}
    room = sum(buys.values())
    scale = min(1.0, room / kept_total) if kept_total > 0 else 0.0
    if not scale > 0:  # (not "<= 0": the same answer for a NaN as before)
        return
    funded = kept_total * scale
    for s, gap in buys.items():
        out[s] -= funded * gap / room
    for symbol, weight in kept.items():
        out[symbol] = out.get(symbol, 0.0) + weight * scale
        notes.append(
            f"did not trim {symbol} by {weight * scale:.1%}: the drift is within the band and the shares "
            f"turn long-term within {defer_days} days (a short-term gain now)"
        )


__all__ = ["tax_aware_targets"]
