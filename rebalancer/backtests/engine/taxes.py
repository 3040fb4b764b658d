"""Estimated tax on the gains a backtest realised, what harvesting saved, year by year.

The realized gains come from the replay's lot closings (:class:`portfolios.tax.LotBook`,
the live ledger's arithmetic: tax-minimizing lot choice, the anniversary holding-period
rule, wash sales). Each year is netted as Schedule D does it
(:func:`portfolios.tax.tax_years_net`): short- and long-term netted separately, a net
loss of one offsets the other, up to ``loss_deduction_limit`` of a remaining loss is
deducted from ordinary income, the rest carries over with its character.

Harvesting is reported per year and in total:

* ``harvested_losses`` — losses realized by tax-loss harvesting sells that are
  deductible (a harvested loss the wash-sale rule disallowed is not counted);
* ``gains_offset`` — the realized gains those losses sheltered (taxable gains without
  the harvested closings minus taxable gains with them);
* ``tax_saved`` — estimated tax without the harvested closings minus the estimated
  tax with them, carryovers and the yearly deduction included. It is the tax saved *in
  the window*: a harvest also lowers the replacement's basis, which defers tax past
  the window's end; comparing a run with harvesting against one without (what the
  walk-forward evaluation does) measures both effects;
* ``wash_sale_disallowed`` — losses the wash-sale rule disallowed (moved into the
  basis of the replacement shares);
* ``wash_sale_blocks`` — harvests and purchases the cycle skipped to avoid a wash sale
  (a symbol blocked on consecutive cycles counts once per 30 days).

Taxes are reported, not deducted from the equity curve (the live ledger does not pay
taxes either); after-tax value = final value - estimated tax.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from portfolios.tax import LONG, BookClosing, TaxRates, TaxYear, tax_years_net
from rebalancer.backtests.engine.ledger import Fill, PaperLedger

ZERO = Decimal("0")


@dataclass(frozen=True)
class TaxYearSummary:
    """One calendar year of a backtest's taxes (floats, money)."""

    realized_short_term: float
    realized_long_term: float
    harvested_losses: float
    gains_offset: float
    tax_saved: float
    wash_sale_disallowed: float
    wash_sale_blocks: int
    loss_deduction: float
    carryover: float
    estimated_tax: float


@dataclass(frozen=True)
class TaxSummary:
    realized_short_term: float
    realized_long_term: float
    harvested_losses: float
    estimated_tax: float
    by_year: dict[int, float]
    """Estimated tax per year."""
    gains_offset: float = 0.0
    tax_saved: float = 0.0
    wash_sale_disallowed: float = 0.0
    wash_sale_blocks: int = 0
    years: dict[int, TaxYearSummary] = field(default_factory=dict)


def _realized(closings: Iterable[BookClosing]) -> dict[int, tuple[Decimal, Decimal]]:
    st: dict[int, Decimal] = defaultdict(lambda: ZERO)
    lt: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for c in closings:
        (lt if c.holding_period == LONG else st)[c.closed_on.year] += c.recognized_gain
    return {y: (st[y], lt[y]) for y in set(st) | set(lt)}


def _closings_from_fills(fills: Iterable[Fill]) -> list[BookClosing]:
    """Fills as one closing per holding period (no wash-sale information)."""
    out = []
    for f in fills:
        if f.side != "sell":
            continue
        for part, period in ((f.realized_gain - f.long_term_gain, "short"), (f.long_term_gain, LONG)):
            if part:
                out.append(BookClosing(None, None, f.symbol, f.quantity, ZERO, ZERO, part, period,
                                       f.as_of, f.as_of, f.as_of, harvest=f.harvest))
    return out


def _taxable(year: TaxYear) -> Decimal:
    return year.taxable_short_term + year.taxable_long_term


def taxes_estimate(
    fills: Iterable[Fill],
    rates: TaxRates,
    *,
    ledger: PaperLedger | None = None,
    through: date | None = None,
) -> TaxSummary:
    """The taxes of a replay: from ``ledger``'s closings when given, else from ``fills``.

    ``through`` (the window's last day) lets carryovers be used by later years without
    sales.
    """
    closings: Sequence[BookClosing] = ledger.closings if ledger is not None else _closings_from_fills(fills)
    blocks: dict[int, int] = defaultdict(int)
    counted: dict[str, date] = {}
    for day, symbol, _ in (ledger.wash_sale_blocks if ledger is not None else ()):
        # a symbol stays blocked for the whole window: count it once per 30 days, not every cycle
        if symbol in counted and (day - counted[symbol]).days <= 30:
            continue
        counted[symbol] = day
        blocks[day.year] += 1
    kept = [c for c in closings if not c.harvest]
    first = min((c.closed_on.year for c in closings), default=None)
    last = through.year if through is not None else None
    if first is not None and last is not None and last < first:
        last = first
    with_harvest = {y.year: y for y in tax_years_net(_realized(closings), rates, first_year=first, last_year=last)}
    without = {y.year: y for y in tax_years_net(_realized(kept), rates, first_year=first, last_year=last)}

    years: dict[int, TaxYearSummary] = {}
    for year in sorted(set(with_harvest) | set(blocks)):
        net = with_harvest.get(year)
        counterfactual = without.get(year)
        own = [c for c in closings if c.closed_on.year == year]
        harvested = sum((-c.recognized_gain for c in own if c.harvest and c.recognized_gain < 0), ZERO)
        years[year] = TaxYearSummary(
            realized_short_term=float(net.short_term) if net else 0.0,
            realized_long_term=float(net.long_term) if net else 0.0,
            harvested_losses=float(harvested),
            gains_offset=float(max(ZERO, _taxable(counterfactual) - _taxable(net))) if net and counterfactual else 0.0,
            tax_saved=(counterfactual.tax - net.tax) if net and counterfactual else 0.0,
            wash_sale_disallowed=float(sum((c.wash_disallowed for c in own), ZERO)),
            wash_sale_blocks=blocks.get(year, 0),
            loss_deduction=float(net.loss_deduction) if net else 0.0,
            carryover=float(net.carryover_short_term + net.carryover_long_term) if net else 0.0,
            estimated_tax=net.tax if net else 0.0,
        )
    return TaxSummary(
        realized_short_term=sum(y.realized_short_term for y in years.values()),
        realized_long_term=sum(y.realized_long_term for y in years.values()),
        harvested_losses=sum(y.harvested_losses for y in years.values()),
        estimated_tax=sum(y.estimated_tax for y in years.values()),
        by_year={y: s.estimated_tax for y, s in years.items()},
        gains_offset=sum(y.gains_offset for y in years.values()),
        tax_saved=sum(y.tax_saved for y in years.values()),
        wash_sale_disallowed=sum(y.wash_sale_disallowed for y in years.values()),
        wash_sale_blocks=sum(y.wash_sale_blocks for y in years.values()),
        years=years,
    )
