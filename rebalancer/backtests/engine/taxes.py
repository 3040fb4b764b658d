"""Estimated tax on the gains a backtest realised, year by year.

Gains and losses realised in a calendar year are netted per holding period (short term
≤ 365 days, long term beyond); a net loss carries forward to later years, offsetting
short-term gains first. Taxes are reported, not deducted from the equity curve (the
live ledger does not pay taxes either).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from rebalancer.backtests.engine.config import TaxRates
from rebalancer.backtests.engine.ledger import Fill

ZERO = Decimal("0")


@dataclass(frozen=True)
class TaxSummary:
    realized_short_term: float
    realized_long_term: float
    harvested_losses: float
    estimated_tax: float
    by_year: dict[int, float]


def taxes_estimate(fills: Iterable[Fill], rates: TaxRates) -> TaxSummary:
    short: dict[int, Decimal] = defaultdict(lambda: ZERO)
    long_: dict[int, Decimal] = defaultdict(lambda: ZERO)
    harvested = ZERO
    for f in fills:
        if f.side != "sell":
            continue
        year = f.as_of.year
        long_[year] += f.long_term_gain
        short[year] += f.realized_gain - f.long_term_gain
        if f.harvest and f.realized_gain < 0:
            harvested += -f.realized_gain
    carry = ZERO
    by_year: dict[int, float] = {}
    total = 0.0
    for year in sorted(set(short) | set(long_)):
        st, lt = short[year] + carry, long_[year]
        carry = ZERO
        if st < 0:  # losses offset long-term gains next, then carry forward
            lt, st = lt + st, ZERO
            if lt < 0:
                carry, lt = lt, ZERO
        elif lt < 0:
            st, lt = st + lt, ZERO
            if st < 0:
                carry, st = st, ZERO
        tax = float(st) * rates.short_term + float(lt) * rates.long_term
        by_year[year] = tax
        total += tax
    return TaxSummary(
        realized_short_term=float(sum(short.values(), ZERO)),
        realized_long_term=float(sum(long_.values(), ZERO)),
        harvested_losses=float(harvested),
        estimated_tax=total,
        by_year=by_year,
    )
