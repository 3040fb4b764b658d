"""Cash movements, trade execution and the ledger audit."""

from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from common.errors import Unprocessable
from portfolios.models import CashMovement, LotClosing, Portfolio, Position, TaxLot, Trade, WashSale
from portfolios.services import (
    cash_deposit,
    cash_movement_record,
    cash_withdraw,
    ledger_audit,
    trades_execute,
)
from portfolios.trading import ProposedTrade

DAY1, DAY2, DAY3 = date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)


def order(symbol, side, qty, **kw):
    return ProposedTrade(symbol=symbol, side=side, quantity=D(str(qty)), est_price=D(0), est_cost=D(0), reason=f"{side} {symbol}", **kw)


def test_deposit_and_withdraw_move_cash_and_record_signed_movements(portfolio):
    # when
    cash_withdraw(portfolio=portfolio, amount=D("2500.5"))
    # then
    portfolio.refresh_from_db()
    assert portfolio.cash == D("7499.5000")
    assert list(CashMovement.objects.filter(portfolio=portfolio).values_list("kind", "amount")) == [
        ("deposit", D("10000.0000")), ("withdrawal", D("-2500.5000")),
    ]
    assert ledger_audit(portfolio=portfolio) == []


def test_withdrawing_more_than_the_cash_is_422_on_amount_and_changes_nothing(portfolio):
    # when
    with pytest.raises(Unprocessable) as err:
        cash_withdraw(portfolio=portfolio, amount=D("10000.0001"))
    # then
    assert (err.value.field, err.value.code, err.value.status_code) == ("amount", "insufficient_cash", 422)
    portfolio.refresh_from_db()
    assert portfolio.cash == D("10000")
    assert CashMovement.objects.filter(portfolio=portfolio).count() == 1


def test_fees_are_outflows_and_dividends_inflows(portfolio):
    cash_movement_record(portfolio=portfolio, kind="fee", amount=D("5"))
    cash_movement_record(portfolio=portfolio, kind="dividend", amount=D("12.5"))
    portfolio.refresh_from_db()
    assert portfolio.cash == D("10007.5")
    assert ledger_audit() == []


def test_buy_then_sell_books_lots_positions_cash_and_realized_gain(portfolio):
    # given commission 0.1 % min 1, slippage 10 bps
    # when: buy 10 AAA at DAY1 (close 100), sell 4 at DAY3 (close 90)
    (buy,) = trades_execute(portfolio=portfolio, trades=[order("AAA", "buy", 10)], as_of=DAY1)
    (sell,) = trades_execute(portfolio=portfolio, trades=[order("AAA", "sell", 4)], as_of=DAY3)
    # then the buy: 10 x 100.1 = 1001 + commission 1.001 → 1002.001 → cash flow -1002.0010
    assert (buy.price, buy.commission, buy.cash_flow, buy.slippage) == (D("100.100000"), D("1.0010"), D("-1002.0010"), D("1.0000"))
    # the sell: 4 x 89.91 = 359.64, commission 1 (minimum) → +358.64
    assert (sell.price, sell.commission, sell.cash_flow) == (D("89.910000"), D("1.0000"), D("358.6400"))
    lot = TaxLot.objects.get(portfolio=portfolio)
    assert (lot.quantity_original, lot.quantity_open, lot.cost_basis, lot.cost_basis_open) == (
        D(10), D(6), D("1002.0010"), D("601.2006"),
    )
    closing = LotClosing.objects.get()
    assert (closing.quantity, closing.proceeds, closing.cost_basis, closing.realized_gain, closing.holding_period) == (
        D(4), D("358.6400"), D("400.8004"), D("-42.1604"), "short",
    )
    assert sell.realized_gain == D("-42.1604")
    assert Position.objects.get(portfolio=portfolio).quantity == D(6)
    portfolio.refresh_from_db()
    assert portfolio.cash == D("10000") - D("1002.0010") + D("358.6400")
    assert ledger_audit() == []


def test_a_named_lot_sold_at_a_loss_is_washed_by_the_lot_bought_the_day_before(portfolio):
    # given 5 AAA bought on DAY1 (cost 501.5) and 5 on DAY2 (cost 506.505)
    trades_execute(portfolio=portfolio, trades=[order("AAA", "buy", 5)], as_of=DAY1)
    trades_execute(portfolio=portfolio, trades=[order("AAA", "buy", 5)], as_of=DAY2)
    first, second = TaxLot.objects.order_by("acquired_on")
    # when 3 shares of the first lot are sold on DAY3 at 89.91 (net 268.73): a 32.17 loss
    (sell,) = trades_execute(portfolio=portfolio, trades=[order("AAA", "sell", 3, lot_ids=(first.pk,))], as_of=DAY3)
    # then the named lot closed, and 3 shares of the DAY2 lot (bought within 30 days) replace:
    # split off with the disallowed loss in their basis and 2 more days of holding period
    first.refresh_from_db()
    second.refresh_from_db()
    closing = LotClosing.objects.get()
    assert (closing.lot_id, closing.realized_gain, closing.wash_disallowed, closing.recognized_gain) == (
        first.pk, D("-32.1700"), D("32.1700"), D("0"),
    )
    assert (first.quantity_open, second.quantity_original, second.quantity_open, second.cost_basis) == (
        D(2), D(2), D(2), D("202.6020"),
    )
    piece = TaxLot.objects.get(split_from=second)
    assert (piece.quantity_open, piece.cost_basis, piece.wash_adjustment, piece.holding_from, piece.opening_trade_id) == (
        D(3), D("336.0730"), D("32.1700"), date(2024, 1, 1), second.opening_trade_id,
    )
    wash = WashSale.objects.get()
    assert (wash.closing_id, wash.replacement_lot_id, wash.quantity, wash.disallowed_loss, wash.holding_days) == (
        closing.pk, piece.pk, D(3), D("32.1700"), 2,
    )
    assert sell.realized_gain == D("-32.1700")
    assert ledger_audit() == []


def test_hifo_closes_the_dearest_lot(portfolio, bars_make):
    # given lots bought at 80 and 120 more than 30 days before the sale (no wash sale)
    bars_make(date(2023, 11, 1), {"AAA": "80"})
    bars_make(date(2023, 11, 15), {"AAA": "120"})
    trades_execute(portfolio=portfolio, trades=[order("AAA", "buy", 5)], as_of=date(2023, 11, 1))
    trades_execute(portfolio=portfolio, trades=[order("AAA", "buy", 5)], as_of=date(2023, 11, 15))
    cheap, dear = TaxLot.objects.order_by("acquired_on")
    Portfolio.objects.filter(pk=portfolio.pk).update(lot_method="hifo")
    # when
    trades_execute(portfolio=portfolio, trades=[order("AAA", "sell", 1)], as_of=DAY3)
    # then
    cheap.refresh_from_db()
    dear.refresh_from_db()
    assert (cheap.quantity_open, dear.quantity_open, WashSale.objects.count()) == (D(5), D(4), 0)
    assert ledger_audit() == []


def test_tax_min_is_the_default_and_sells_the_loss_lot_before_fifo_would(portfolio, bars_make):
    # given lots bought at 80 (a gain at 90) and 120 (a loss), both more than 30 days ago
    bars_make(date(2023, 11, 1), {"AAA": "80"})
    bars_make(date(2023, 11, 15), {"AAA": "120"})
    trades_execute(portfolio=portfolio, trades=[order("AAA", "buy", 5)], as_of=date(2023, 11, 1))
    trades_execute(portfolio=portfolio, trades=[order("AAA", "buy", 5)], as_of=date(2023, 11, 15))
    # when
    (sell,) = trades_execute(portfolio=portfolio, trades=[order("AAA", "sell", 2)], as_of=DAY3)
    # then the 120 lot (5 x 120.12 + 1 = 601.60) closed: 2 x 89.91 - 1 = 178.82 against 240.64
    assert portfolio.lot_method == "tax_min"
    assert sell.realized_gain == D("-61.8200")
    assert ledger_audit() == []


@pytest.mark.parametrize(
    ("trades", "code"),
    [
        ([order("AAA", "sell", 1)], "insufficient_shares"),
        ([order("AAA", "buy", 200)], "insufficient_cash"),
        ([order("NOPE", "buy", 1)], "unknown_symbol"),
        ([order("BBB", "buy", 2), order("AAA", "buy", 99)], "insufficient_cash"),
    ],
)
def test_a_failing_batch_writes_nothing(portfolio, trades, code):
    # when
    with pytest.raises(Unprocessable) as err:
        trades_execute(portfolio=portfolio, trades=trades, as_of=DAY1)
    # then
    assert err.value.code == code
    portfolio.refresh_from_db()
    assert portfolio.cash == D("10000")
    assert (Trade.objects.count(), TaxLot.objects.count(), Position.objects.count()) == (0, 0, 0)


def test_a_missing_close_on_the_execution_date_is_refused(portfolio, bars_make):
    # given no bar for DDD on DAY1
    bars_make(DAY2, {"DDD": "10"})
    with pytest.raises(Unprocessable) as err:
        trades_execute(portfolio=portfolio, trades=[order("DDD", "buy", 1)], as_of=DAY1)
    assert err.value.code == "broker_rejected"


def test_execution_queries_do_not_grow_with_the_number_of_trades(portfolio):
    # given
    trades_execute(portfolio=portfolio, trades=[order("AAA", "buy", 5), order("BBB", "buy", 5)], as_of=DAY1)
    small = [order("AAA", "sell", 1), order("CCC", "buy", 1)]
    large = [order("AAA", "sell", 1), order("BBB", "sell", 1), order("CCC", "buy", 2), order("BND", "buy", 2)]
    # when
    with CaptureQueriesContext(connection) as q_small:
        trades_execute(portfolio=portfolio, trades=small, as_of=DAY2)
    with CaptureQueriesContext(connection) as q_large:
        trades_execute(portfolio=portfolio, trades=large, as_of=DAY3)
    # then
    assert len(q_large) == len(q_small)
    assert len(q_large) <= 16  # 13 statements, the loss closings a buy may wash, the savepoint pair
    assert ledger_audit() == []


def test_audit_reports_each_broken_invariant(portfolio):
    # given a ledger corrupted behind the services' back
    trades_execute(portfolio=portfolio, trades=[order("AAA", "buy", 5)], as_of=DAY1)
    Portfolio.objects.filter(pk=portfolio.pk).update(cash=D("1"))
    Position.objects.filter(portfolio=portfolio).update(quantity=D(4))
    # when
    codes = sorted(v.code for v in ledger_audit())
    # then
    assert codes == ["cash_mismatch", "position_lot_mismatch", "position_trade_mismatch", "statement_mismatch"]


def test_audit_ledger_command_exits_nonzero_on_violations(portfolio):
    from django.core.management import call_command

    call_command("audit_ledger")  # clean: returns normally
    Portfolio.objects.filter(pk=portfolio.pk).update(cash=D("1"))
    with pytest.raises(SystemExit) as exit_:
        call_command("audit_ledger")
    assert exit_.value.code == 1


def test_deposit_amount_must_be_positive(portfolio):
    from common.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as err:
        cash_deposit(portfolio=portfolio, amount=D("-1"))
    assert err.value.field == "amount"


def test_bulk_callers_save_queries_with_assets_and_a_prepared_broker(portfolio):
    from marketdata.models import Asset
    from portfolios.brokers import PaperBroker
    from portfolios.services import cost_model_get

    # given
    assets = {a.symbol: a for a in Asset.objects.all()}
    broker = PaperBroker(prices={"AAA": D("100"), "BBB": D("50")}, costs=cost_model_get(portfolio=portfolio))
    trades = [order("AAA", "buy", 1), order("BBB", "buy", 1)]
    # when
    with CaptureQueriesContext(connection) as plain:
        trades_execute(portfolio=portfolio, trades=trades, as_of=DAY1)
    with CaptureQueriesContext(connection) as prepared:
        trades_execute(portfolio=portfolio, trades=trades, as_of=DAY1, assets=assets, broker=broker)
    # then the same fills, three queries fewer (assets, autonomy costs, closes)
    assert len(plain) - len(prepared) == 3
    first, second = Trade.objects.order_by("id")[:2], Trade.objects.order_by("id")[2:4]
    assert [t.cash_flow for t in first] == [t.cash_flow for t in second]
    assert ledger_audit() == []


def test_one_ledger_can_book_a_lot_and_its_sale_on_later_days_before_one_flush(portfolio):
    from marketdata.models import Asset
    from portfolios.brokers import Fill
    from portfolios.services.execution import Ledger

    # given a buy of 10 AAA on DAY1 and a sale of 6 on DAY3, applied to one ledger
    locked = Portfolio.objects.get(pk=portfolio.pk)
    ledger = Ledger(locked, {"AAA": Asset.objects.get(symbol="AAA")}, [], {}, broker_name="paper", loss_closings={})
    for day, side, qty, cash in ((DAY1, "buy", 10, "-1000"), (DAY3, "sell", 6, "720")):
        fill = Fill("AAA", side, D(qty), D(100) if side == "buy" else D(120), D(100), D(0), D(0), D(cash),
                    datetime(2024, 1, 2, 21, tzinfo=UTC), f"r-{side}")
        ledger.apply(order("AAA", side, qty), fill, decision=None, as_of=day)
    # when
    ledger.flush()
    # then the lot keeps its original 10 shares and 1,000 basis, 4 open; its closing points at it
    lot = TaxLot.objects.get(portfolio=portfolio)
    assert (lot.quantity_original, lot.quantity_open, lot.cost_basis, lot.cost_basis_open) == (D(10), D(4), D(1000), D(400))
    closing = LotClosing.objects.get()
    assert (closing.lot_id, closing.quantity, closing.realized_gain) == (lot.pk, D(6), D(120))
    assert ledger_audit() == []
