"""The one lot arithmetic (LotBook): closings, holding periods, lot choice, wash sales, splits."""

from datetime import date
from decimal import Decimal as D

import pytest

from portfolios.tax import TAX_MIN, BookLot, LotBook, LotSelectionError, holding_period, lots_select


def book_with(*lots: tuple) -> LotBook:
    """Lots as (id, symbol, acquired_on, quantity, basis)."""
    return LotBook(lots=[BookLot(i, s, on, D(q), D(b)) for i, s, on, q, b in lots])


def test_the_anniversary_is_short_term_and_the_day_after_long_term():
    # given bought 2020-01-10
    book = book_with((1, "A", date(2020, 1, 10), "10", "1000"), (2, "A", date(2020, 1, 10), "10", "1000"))
    # when sold on the anniversary, and the day after
    (on_anniversary,) = book.sell(symbol="A", quantity=D(10), proceeds=D(1500), on=date(2021, 1, 10))
    (day_after,) = book.sell(symbol="A", quantity=D(10), proceeds=D(1500), on=date(2021, 1, 11))
    # then
    assert (on_anniversary.holding_period, day_after.holding_period) == ("short", "long")


def test_a_lot_bought_on_29_february_turns_long_term_on_1_march():
    assert holding_period(date(2020, 2, 29), date(2021, 2, 28)) == "short"
    assert holding_period(date(2020, 2, 29), date(2021, 3, 1)) == "long"


def test_a_sale_splits_proceeds_pro_rata_and_the_last_shares_take_the_remaining_basis():
    # given 3 shares costing 100.0001 in total
    book = book_with((1, "A", date(2024, 1, 2), "3", "100.0001"))
    # when one share, then the other two, are sold
    (first,) = book.sell(symbol="A", quantity=D(1), proceeds=D("40"), on=date(2024, 2, 1))
    (rest,) = book.sell(symbol="A", quantity=D(2), proceeds=D("80"), on=date(2024, 3, 1))
    # then 100.0001 / 3 = 33.333366... → 33.3334; the last two take 66.6667: nothing is lost
    assert (first.basis, first.gain, rest.basis, rest.gain) == (D("33.3334"), D("6.6666"), D("66.6667"), D("13.3333"))
    assert first.basis + rest.basis == D("100.0001")
    assert book.open_lots("A") == []


def test_one_sale_over_several_lots_splits_its_proceeds_exactly():
    book = book_with((1, "A", date(2024, 1, 2), "1", "10"), (2, "A", date(2024, 1, 3), "2", "20"))
    closings = book.sell(symbol="A", quantity=D(3), proceeds=D("100"), on=date(2024, 2, 1))
    assert [c.proceeds for c in closings] == [D("33.3333"), D("66.6667")]
    assert sum(c.proceeds for c in closings) == D(100)


LOTS = [
    (1, "A", date(2023, 1, 10), "10", "1000"),  # long-term, 100/share: gain 20/share at 120
    (2, "A", date(2023, 3, 10), "10", "1500"),  # long-term, 150/share: loss 30/share
    (3, "A", date(2024, 2, 1), "10", "1300"),  # short-term, 130/share: loss 10/share
    (4, "A", date(2024, 3, 1), "10", "1100"),  # short-term, 110/share: gain 10/share
]


def test_hifo_sells_the_highest_cost_first():
    book = book_with(*LOTS)
    closings = book.sell(symbol="A", quantity=D(15), proceeds=D(1800), on=date(2024, 6, 3), method="hifo")
    assert [(c.lot_id, c.quantity) for c in closings] == [(2, D(10)), (3, D(5))]


def test_tax_min_sells_the_lots_that_cost_the_least_tax_per_share_first():
    # given a sale at 120 on 2024-06-03 at 35 % short-term and 15 % long-term:
    # tax per share lot 1 +3.00 (LT gain 20), lot 2 -4.50 (LT loss 30), lot 3 -3.50 (ST loss 10),
    # lot 4 +3.50 (ST gain 10)
    picks = lots_select(
        lots=book_with(*LOTS).open_lots("A"), symbol="A", quantity=D(40), method=TAX_MIN,
        price=D(120), sold_on=date(2024, 6, 3),
    )
    # then losses first (most tax saved first), the short-term gain last
    assert [p.lot_id for p in picks] == [2, 3, 1, 4]


def test_tax_min_is_the_books_method_and_realizes_the_least_gain():
    book = book_with(*LOTS)
    closings = book.sell(symbol="A", quantity=D(20), proceeds=D(2400), on=date(2024, 6, 3), method=TAX_MIN)
    assert [(c.lot_id, c.gain, c.holding_period) for c in closings] == [
        (2, D("-300.0000"), "long"), (3, D("-100.0000"), "short"),
    ]


def test_selling_more_than_held_raises_and_changes_nothing():
    book = book_with((1, "A", date(2024, 1, 2), "10", "1000"))
    with pytest.raises(LotSelectionError):
        book.sell(symbol="A", quantity=D("10.00000001"), proceeds=D(1000), on=date(2024, 2, 1))
    assert [(lot.quantity, lot.basis) for lot in book.open_lots("A")] == [(D(10), D(1000))]
    assert book.closings == [] and book.touched == {}


def test_a_replacement_bought_after_the_loss_sale_takes_the_disallowed_loss_and_holding_period():
    # given 10 A bought 2024-01-02 for 1000, sold 2024-03-01 for 800 (a 200 loss, held 59 days)
    book = book_with((1, "A", date(2024, 1, 2), "10", "1000"))
    (loss,) = book.sell(symbol="A", quantity=D(10), proceeds=D(800), on=date(2024, 3, 1))
    # when 10 A are bought back 19 days later for 850
    (replacement,) = book.buy(symbol="A", quantity=D(10), basis=D(850), on=date(2024, 3, 20), lot_id=2)
    # then the whole loss is disallowed and moves to the replacement's basis and holding period
    assert (loss.gain, loss.wash_disallowed, loss.recognized_gain, loss.washed_quantity) == (
        D(-200), D(200), D(0), D(10),
    )
    assert (replacement.basis, replacement.wash_adjustment, replacement.acquired_on) == (D(1050), D(200), date(2024, 3, 20))
    assert replacement.holding_from == date(2024, 1, 21)  # 2024-03-20 minus the 59 days held
    (match,) = book.washes
    assert (match.closing, match.lot, match.quantity, match.disallowed, match.holding_days) == (loss, replacement, D(10), D(200), 59)


def test_fewer_replacement_shares_wash_only_their_share_of_the_loss_and_a_later_buy_the_rest():
    book = book_with((1, "A", date(2024, 1, 2), "10", "1000"))
    (loss,) = book.sell(symbol="A", quantity=D(10), proceeds=D(800), on=date(2024, 3, 1))
    # when 4 shares are bought back, then 10 more within the window
    (four,) = book.buy(symbol="A", quantity=D(4), basis=D(340), on=date(2024, 3, 5), lot_id=2)
    opened = book.buy(symbol="A", quantity=D(10), basis=D(900), on=date(2024, 3, 25), lot_id=3)
    # then 4/10 of the loss, then the remaining 6/10; the second buy is split: 6 replace, 4 do not
    assert (four.basis, four.wash_adjustment) == (D(420), D(80))
    plain, piece = opened
    assert (piece.quantity, piece.basis, piece.wash_replacement, piece.holding_from) == (D(6), D(660), True, date(2024, 1, 26))
    assert (plain.quantity, plain.basis, plain.wash_replacement, plain.holding_from) == (D(4), D(360), False, None)
    assert (loss.washed_quantity, loss.wash_disallowed, loss.recognized_gain) == (D(10), D(200), D(0))
    assert book.quantity("A") == D(14)


def test_shares_bought_in_the_30_days_before_a_loss_sale_replace_and_a_lot_is_split_off():
    # given 10 A from January and 20 A bought 2024-02-20; the January lot is sold at a loss on 03-01
    book = book_with((1, "A", date(2024, 1, 2), "10", "1000"), (2, "A", date(2024, 2, 20), "20", "1600"))
    (loss,) = book.sell(symbol="A", quantity=D(10), proceeds=D(800), on=date(2024, 3, 1), method="fifo")
    # then 10 of the 20 February shares replace: they are split off with the 200 loss and 59 days
    lot2 = next(lot for lot in book.open_lots("A") if lot.lot_id == 2)
    (piece,) = book.pieces
    assert (piece.parent, piece.piece.quantity, piece.piece.basis, piece.piece.holding_from) == (
        lot2, D(10), D(1000), date(2023, 12, 23),
    )
    assert (lot2.quantity, lot2.basis, lot2.wash_replacement) == (D(10), D(800), False)
    assert loss.recognized_gain == D(0)


def test_a_buy_31_days_after_the_loss_does_not_wash_it_and_30_days_does():
    for days, washed in ((31, D(0)), (30, D(200))):
        book = book_with((1, "A", date(2024, 1, 2), "10", "1000"))
        (loss,) = book.sell(symbol="A", quantity=D(10), proceeds=D(800), on=date(2024, 3, 1))
        book.buy(symbol="A", quantity=D(10), basis=D(800), on=date.fromordinal(date(2024, 3, 1).toordinal() + days))
        assert loss.wash_disallowed == washed


def test_the_rest_of_the_lot_sold_is_not_its_own_replacement_and_gains_are_never_washed():
    book = book_with((1, "A", date(2024, 1, 2), "10", "1000"))
    (loss,) = book.sell(symbol="A", quantity=D(5), proceeds=D(400), on=date(2024, 1, 20))
    assert loss.wash_disallowed == D(0) and book.washes == []
    (gain,) = book.sell(symbol="A", quantity=D(5), proceeds=D(600), on=date(2024, 1, 21))
    book.buy(symbol="A", quantity=D(5), basis=D(600), on=date(2024, 1, 22))
    assert gain.wash_disallowed == D(0)
    assert loss.wash_disallowed == D(100)  # the 01-22 buy washes the 01-20 loss


def test_a_replacement_share_washes_one_loss_share_only():
    # given two loss sales and one replacement buy of 10 between them
    book = book_with((1, "A", date(2024, 1, 2), "20", "2000"))
    (first,) = book.sell(symbol="A", quantity=D(10), proceeds=D(900), on=date(2024, 3, 1))
    book.buy(symbol="A", quantity=D(10), basis=D(900), on=date(2024, 3, 2), lot_id=2)
    (second,) = book.sell(symbol="A", quantity=D(10), proceeds=D(800), on=date(2024, 3, 3), method="fifo")
    # then the replacement washed the first loss and cannot wash the second
    assert (first.wash_disallowed, second.wash_disallowed) == (D(100), D(0))


@pytest.mark.parametrize(
    ("numerator", "denominator", "before", "after"),
    [("2", "1", "10", "20"), ("1", "2", "10", "5"), ("3", "1", "7", "21"), ("1", "3", "10", "3.33333333"), ("3", "2", "7", "10.5")],
)
def test_a_split_multiplies_quantities_and_keeps_total_basis_and_dates(numerator, denominator, before, after):
    book = book_with((1, "A", date(2020, 1, 10), before, "1234.5678"))
    ((lot, q_before, q_after),) = book.split(symbol="A", numerator=D(numerator), denominator=D(denominator))
    assert (q_before, q_after, lot.quantity, lot.basis, lot.acquired_on) == (
        D(before), D(after), D(after), D("1234.5678"), date(2020, 1, 10),
    )
