"""The backtester's ledger and taxes use the live lot arithmetic: anniversary rule, wash sales,
harvest reporting (DB-free)."""

from datetime import date
from decimal import Decimal as D

import pytest

from portfolios.tax import TaxRates
from portfolios.trading import CostModel
from rebalancer.backtests.engine.ledger import PaperLedger
from rebalancer.backtests.engine.taxes import taxes_estimate

FREE = CostModel(commission_rate=D(0), commission_min=D(0), slippage_bps=D(0))
RATES = TaxRates(short_term=0.35, long_term=0.15, loss_deduction_limit=3000)


def ledger() -> PaperLedger:
    return PaperLedger(initial_cash=D(100000), costs=FREE)


def test_bought_2020_01_10_sold_on_the_anniversary_is_short_term_and_the_day_after_long_term():
    # given
    book = ledger()
    book.execute(as_of=date(2020, 1, 10), symbol="A", side="buy", quantity=D(10), price=D(100))
    # when
    on_anniversary = book.execute(as_of=date(2021, 1, 10), symbol="A", side="sell", quantity=D(5), price=D(150))
    day_after = book.execute(as_of=date(2021, 1, 11), symbol="A", side="sell", quantity=D(5), price=D(150))
    # then 366 days (2020 is a leap year) is still not "more than one year"
    assert (on_anniversary.realized_gain, on_anniversary.long_term_gain) == (D(250), D(0))
    assert (day_after.realized_gain, day_after.long_term_gain) == (D(250), D(250))
    taxes = taxes_estimate(book.fills, RATES, ledger=book)
    assert (taxes.realized_short_term, taxes.realized_long_term, taxes.estimated_tax) == (250.0, 250.0, 125.0)


def test_the_default_lot_choice_is_tax_minimizing():
    book = ledger()
    book.execute(as_of=date(2020, 1, 2), symbol="A", side="buy", quantity=D(10), price=D(100))
    book.execute(as_of=date(2020, 6, 1), symbol="A", side="buy", quantity=D(10), price=D(150))
    sell = book.execute(as_of=date(2020, 9, 1), symbol="A", side="sell", quantity=D(10), price=D(120))
    assert sell.realized_gain == D(-300)  # the 150 lot (a loss), not FIFO's 100 lot (+200)


def test_a_wash_sale_in_a_backtest_moves_the_loss_to_the_replacement_and_out_of_the_year():
    # given a 200 loss on 2020-03-10 and a buy back on 03-20, then a sale of the replacement
    book = ledger()
    book.execute(as_of=date(2020, 3, 2), symbol="A", side="buy", quantity=D(10), price=D(100))
    book.execute(as_of=date(2020, 3, 10), symbol="A", side="sell", quantity=D(10), price=D(80))
    book.execute(as_of=date(2020, 3, 20), symbol="A", side="buy", quantity=D(10), price=D(85))
    (lot,) = book.lots
    assert (lot.basis, lot.cost_per_share, lot.holding_from) == (D(1050), D(105), date(2020, 3, 12))
    book.execute(as_of=date(2020, 12, 1), symbol="A", side="sell", quantity=D(10), price=D(90))
    # then the year recognizes only the final -150 (900 - 1050)
    taxes = taxes_estimate(book.fills, RATES, ledger=book)
    assert (taxes.wash_sale_disallowed, taxes.realized_short_term) == (200.0, -150.0)
    assert taxes.estimated_tax == pytest.approx(-52.5)  # 150 deducted from ordinary income at 35 %


def test_harvested_losses_gains_offset_and_tax_saved_per_year():
    # given a 1,000 short-term gain and a 300 harvested loss in 2020
    book = ledger()
    book.execute(as_of=date(2020, 1, 2), symbol="A", side="buy", quantity=D(10), price=D(100))
    book.execute(as_of=date(2020, 1, 2), symbol="B", side="buy", quantity=D(10), price=D(100))
    book.execute(as_of=date(2020, 6, 1), symbol="A", side="sell", quantity=D(10), price=D(200))
    book.execute(as_of=date(2020, 6, 1), symbol="B", side="sell", quantity=D(10), price=D(70), harvest=True)
    book.wash_sale_blocks.append((date(2020, 7, 1), "C", "C was bought in the last 30 days"))
    book.wash_sale_blocks.append((date(2020, 7, 2), "C", "still blocked the next day: the same block"))
    # when
    taxes = taxes_estimate(book.fills, RATES, ledger=book, through=date(2021, 12, 31))
    # then
    year = taxes.years[2020]
    assert (year.harvested_losses, year.gains_offset, year.wash_sale_blocks) == (300.0, 300.0, 1)
    assert year.tax_saved == pytest.approx(105.0)  # 1,000 x 35 % - 700 x 35 %
    assert (taxes.estimated_tax, taxes.tax_saved, sorted(taxes.years)) == (pytest.approx(245.0), pytest.approx(105.0), [2020, 2021])
