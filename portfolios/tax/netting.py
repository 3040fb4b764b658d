"""Netting a year's realized gains and losses into an estimated tax (pure, no Django).

As IRS Schedule D does it, per calendar year:

1. short-term gains and losses are netted with last year's short-term loss carryover,
   long-term with the long-term carryover;
2. a net loss of one holding period offsets a net gain of the other;
3. a remaining net loss is deducted from ordinary income up to
   ``rates.loss_deduction_limit`` (3,000 in the US; short-term loss first) — it saves
   tax at the short-term (ordinary) rate;
4. what is left carries over to the next year and keeps its character.

``tax = taxable short-term x short-term rate + taxable long-term x long-term rate -
deduction x short-term rate``: an estimate at flat marginal rates (a year with a loss
deduction has a negative estimated tax, the tax it saves on other income).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from portfolios.tax.lots import DEFAULT_RATES, TaxRates

ZERO = Decimal(0)


@dataclass(frozen=True)
class TaxYear:
    """One year of netting; money as ``Decimal``, ``tax`` as a float estimate."""

    year: int
    short_term: Decimal
    """Short-term gains minus losses realized in the year (recognized: wash sales out)."""
    long_term: Decimal
    taxable_short_term: Decimal
    taxable_long_term: Decimal
    loss_deduction: Decimal
    """Net capital loss deducted from ordinary income this year."""
    carryover_short_term: Decimal
    """Short-term loss carried into next year (a positive number)."""
    carryover_long_term: Decimal
    tax: float


def _rate(value: float) -> Decimal:
    return Decimal(str(value))


def tax_years_net(
    realized: Mapping[int, tuple[Decimal, Decimal]],
    rates: TaxRates = DEFAULT_RATES,
    *,
    first_year: int | None = None,
    last_year: int | None = None,
) -> list[TaxYear]:
    """Net ``realized[year] = (short-term, long-term)`` year by year (see the module docstring).

    Years between ``first_year`` and ``last_year`` (default: the realized ones) without
    any realization still use up carryovers through the yearly deduction.
    """
    years = sorted(realized)
    if not years and first_year is None:
        return []
    lo = min([*years, *([first_year] if first_year is not None else [])])
    hi = max([*years, *([last_year] if last_year is not None else [])])
    limit = Decimal(str(rates.loss_deduction_limit))
    carry_st = carry_lt = ZERO
    out: list[TaxYear] = []
    for year in range(lo, hi + 1):
        st_year, lt_year = realized.get(year, (ZERO, ZERO))
        st, lt = st_year - carry_st, lt_year - carry_lt
        deduction = carry_st = carry_lt = ZERO
        if st < 0 <= lt:
            lt, st = max(ZERO, lt + st), min(ZERO, lt + st)
        elif lt < 0 <= st:
            st, lt = max(ZERO, st + lt), min(ZERO, st + lt)
        if st < 0 or lt < 0:  # a net loss remains: deduct, then carry over by character
            loss = -(min(st, ZERO) + min(lt, ZERO))
            deduction = min(limit, loss)
            from_st = min(deduction, -min(st, ZERO))
            carry_st = -min(st, ZERO) - from_st
            carry_lt = -min(lt, ZERO) - (deduction - from_st)
            st, lt = max(st, ZERO), max(lt, ZERO)
        tax = st * _rate(rates.short_term) + lt * _rate(rates.long_term) - deduction * _rate(rates.short_term)
        out.append(
            TaxYear(
                year=year, short_term=st_year, long_term=lt_year, taxable_short_term=st,
                taxable_long_term=lt, loss_deduction=deduction, carryover_short_term=carry_st,
                carryover_long_term=carry_lt, tax=float(tax),
            )
        )
    return out


__all__ = ["TaxYear", "tax_years_net"]
