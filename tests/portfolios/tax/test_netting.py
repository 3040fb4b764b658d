"""Yearly netting of realized gains into an estimated tax (Schedule D order, carryovers)."""

from decimal import Decimal as D

from portfolios.tax import TaxRates, tax_years_net

RATES = TaxRates(short_term=0.35, long_term=0.15, loss_deduction_limit=3000)


def test_gains_of_both_kinds_are_taxed_at_their_rates():
    (year,) = tax_years_net({2020: (D(1000), D(2000))}, RATES)
    assert (year.taxable_short_term, year.taxable_long_term, year.tax) == (D(1000), D(2000), 650.0)


def test_a_short_term_loss_offsets_long_term_gains_then_carries_over_as_short_term():
    # 2020: ST -10,000, LT +4,000 → net -6,000: 3,000 deducted, 3,000 ST carried into 2021
    # 2021: ST +5,000 - 3,000 carryover = 2,000 taxable
    first, second = tax_years_net({2020: (D(-10000), D(4000)), 2021: (D(5000), D(0))}, RATES)
    assert (first.loss_deduction, first.carryover_short_term, first.carryover_long_term) == (D(3000), D(3000), D(0))
    assert first.tax == -1050.0  # 3,000 x 35 % saved on ordinary income
    assert (second.taxable_short_term, second.tax) == (D(2000), 700.0)


def test_carryovers_keep_their_character_and_are_used_by_later_years_without_trades():
    years = tax_years_net({2020: (D(-1000), D(-8000))}, RATES, last_year=2022)
    assert [(y.year, y.loss_deduction, y.carryover_short_term, y.carryover_long_term) for y in years] == [
        (2020, D(3000), D(0), D(6000)),  # the ST loss is deducted first
        (2021, D(3000), D(0), D(3000)),
        (2022, D(3000), D(0), D(0)),
    ]
    assert sum(y.tax for y in years) == -3150.0


def test_without_the_deduction_every_loss_carries_over():
    years = tax_years_net({2020: (D(-500), D(0)), 2021: (D(0), D(800))}, TaxRates(0.35, 0.15, 0))
    assert [(y.carryover_short_term, y.taxable_long_term) for y in years] == [(D(500), D(0)), (D(0), D(300))]
