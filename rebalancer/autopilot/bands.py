"""The no-trade band and the cost gate: trade only what is worth its costs (pure).

**Band.** Each asset has a band around its target of half-width
``max(floor, min(threshold, relative * target))`` — with the defaults 5 points or half the
target, whichever is smaller (a wider cousin of the "5/25" rule; 25 % re-traded more and
did worse after tax on the evaluation's tuning windows). Inside its band an asset is
left alone. An asset outside it trades *into* the band, to ``target ± inner * band``
(halfway with ``inner = 0.5``): with proportional costs the cheapest correction is to
the band rather than to the target, and stopping short of the edge keeps the next
day's noise from re-trading it. A holding whose target is zero (dropped by the
strategy, excluded, outside the universe) is sold entirely once it is outside the
smallest band (a sliver below it is not worth a trade). Cash is a position with a band
of its own: cash beyond it, or new money deposited since the last cycle, buys the
underweight assets before anything is sold; a cash shortfall sells the overweight ones.

**Cost gate** (:func:`cost_gate`). A rebalance that only corrects drift goes ahead when
its expected benefit beats its costs. Benefit: the reduction in tracking variance
against the targets, ``lambda/2 * [(w - t)' S (w - t) - (w' - t)' S (w' - t)]``
annualised, times the horizon an uncorrected drift is assumed to last (one year),
times the portfolio's value (``lambda`` is the tier's risk aversion, ``S`` the daily
covariance of the window). Costs: commission and slippage on the traded value, plus
the *avoidable* part of the tax on the gains the sales realise — a short-term gain
costs the difference between the short- and long-term rates plus the deferral value of
the long-term tax, a long-term gain the deferral value only (``deferral_value`` of its
tax); realised losses count as negative costs. Lots are taken highest cost first, as
a tax-aware sale would. Trades that bring cash into use, enforce a limit (a position
above its cap, an excluded holding) or follow the risk overlay are not gated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from rebalancer.autopilot.types import BandSettings, Lot, TaxConfig, TradeConfig

EPS = 1e-9


def band_of(target: float, threshold: float, settings: BandSettings) -> float:
    """Half-width of the no-trade band around ``target`` (weights)."""
    return max(settings.floor, min(threshold, settings.relative * max(target, 0.0)))


@dataclass(frozen=True)
class BandMove:
    """The weights to trade to, and which assets left their band."""

    weights: dict[str, float]
    out_of_band: tuple[tuple[str, float, float], ...]
    """``(symbol, drift, band)`` of every asset outside its band, largest drift first."""


def out_of_band(
    current: Mapping[str, float], targets: Mapping[str, float], threshold: float, settings: BandSettings
) -> tuple[tuple[str, float, float], ...]:
    rows = []
    for s in set(current) | set(targets):
        t, c = targets.get(s, 0.0), current.get(s, 0.0)
        b = band_of(t, threshold, settings)
        drift = c - t
        if abs(drift) > b + EPS:
            rows.append((s, drift, b))
    return tuple(sorted(rows, key=lambda r: (-abs(r[1]), r[0])))


def _spread(amount: float, gaps: Mapping[str, float]) -> dict[str, float]:
    """``amount`` shared in proportion to ``gaps`` (all positive), none above its gap."""
    total = sum(gaps.values())
    if total <= EPS or amount <= EPS:
        return {}
    share = min(1.0, amount / total)
    return {s: g * share for s, g in gaps.items()}


def band_move(
    current: Mapping[str, float],
    targets: Mapping[str, float],
    *,
    threshold: float,
    settings: BandSettings,
    full: bool = False,
) -> BandMove:
    """Weights after moving the out-of-band assets into their bands, cash used first.

    ``full``: trade every asset all the way to its target (the kill switch, a de-risk).
    """
    outside = out_of_band(current, targets, threshold, settings)
    new = {s: w for s, w in current.items() if w > EPS}
    if full:
        new = {s: w for s, w in targets.items() if w > EPS}
    else:
        for s, drift, band in outside:
            t = targets.get(s, 0.0)
            new[s] = 0.0 if t <= EPS else t + np.sign(drift) * settings.inner * band
    cash_target = 1.0 - sum(targets.values())
    cash_new = 1.0 - sum(new.values())
    if cash_new > cash_target + EPS:  # invest the excess in the underweights
        gaps = {s: t - new.get(s, 0.0) for s, t in targets.items() if t - new.get(s, 0.0) > EPS}
        for s, add in _spread(cash_new - cash_target, gaps).items():
            new[s] = new.get(s, 0.0) + add
    elif cash_new < cash_target - EPS:  # raise cash from the overweights, then from the buys
        short = cash_target - cash_new
        gaps = {s: w - targets.get(s, 0.0) for s, w in new.items() if w - targets.get(s, 0.0) > EPS}
        taken = _spread(short, gaps)
        for s, cut in taken.items():
            new[s] -= cut
        short -= sum(taken.values())
        if short > EPS:
            buys = {s: w - current.get(s, 0.0) for s, w in new.items() if w - current.get(s, 0.0) > EPS}
            for s, cut in _spread(short, buys).items():
                new[s] -= cut
    return BandMove(weights={s: w for s, w in new.items() if w > EPS}, out_of_band=outside)


@dataclass(frozen=True)
class GateResult:
    passed: bool
    benefit: float
    trading_cost: float
    tax_cost: float
    message: str


def _tracking_variance(gap: np.ndarray, cov: np.ndarray) -> float:
    return float(gap @ cov @ gap)


def _tax_cost(
    sells: Mapping[str, float], prices: Mapping[str, float], lots: Sequence[Lot], as_of: date,
    tax: TaxConfig, settings: BandSettings,
) -> float:
    """Avoidable tax of selling ``sells`` (symbol -> shares), lots highest cost first."""
    by_symbol: dict[str, list[Lot]] = {}
    for lot in lots:
        by_symbol.setdefault(lot.symbol, []).append(lot)
    st_rate = tax.short_term_rate - tax.long_term_rate * (1.0 - settings.deferral_value)
    lt_rate = tax.long_term_rate * settings.deferral_value
    cost = 0.0
    for symbol, shares in sells.items():
        price = prices.get(symbol)
        if price is None:
            continue
        left = shares
        for lot in sorted(by_symbol.get(symbol, ()), key=lambda x: -x.cost_per_share):
            if left <= EPS:
                break
            q = min(left, lot.quantity)
            left -= q
            gain = (price - lot.cost_per_share) * q
            anniversary = _anniversary(lot.acquired_on)
            cost += gain * (lt_rate if as_of > anniversary else st_rate)
    return cost


def _anniversary(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def cost_gate(
    *,
    current: Mapping[str, float],
    proposed: Mapping[str, float],
    targets: Mapping[str, float],
    symbols: Sequence[str],
    cov: np.ndarray,
    total_value: float,
    prices: Mapping[str, float],
    lots: Sequence[Lot],
    as_of: date,
    trade: TradeConfig,
    tax: TaxConfig,
    risk_aversion: float,
    settings: BandSettings,
) -> GateResult:
    """Whether moving ``current -> proposed`` is worth it (see the module docstring).

    ``cov``: daily covariance over ``symbols`` (symbols outside it count as riskless).
    """
    index = {s: i for i, s in enumerate(symbols)}

    def vec(weights: Mapping[str, float]) -> np.ndarray:
        v = np.zeros(len(symbols))
        for s, w in weights.items():
            if s in index:
                v[index[s]] = w
        return v

    t = vec(targets)
    before = _tracking_variance(vec(current) - t, cov)
    after = _tracking_variance(vec(proposed) - t, cov)
    benefit = 0.5 * risk_aversion * (before - after) * 252.0 * settings.horizon_years * total_value
    traded = sum(abs(proposed.get(s, 0.0) - current.get(s, 0.0)) for s in set(current) | set(proposed))
    trading_cost = traded * total_value * (trade.commission_rate + trade.slippage_bps / 10_000.0)
    sells = {
        s: (current.get(s, 0.0) - proposed.get(s, 0.0)) * total_value / prices[s]
        for s in current
        if current.get(s, 0.0) - proposed.get(s, 0.0) > EPS and prices.get(s)
    }
    tax_cost = _tax_cost(sells, prices, lots, as_of, tax, settings) if tax.taxable else 0.0
    passed = benefit >= trading_cost + tax_cost
    message = (
        f"expected benefit {benefit:,.2f} against costs {trading_cost:,.2f} and avoidable taxes "
        f"{tax_cost:,.2f}: " + ("worth trading" if passed else "not worth trading yet")
    )
    return GateResult(passed, benefit, trading_cost, tax_cost, message)
