"""The public in-memory ``Ledger`` with plain lot and position records (no database)."""

from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest

from common.errors import Unprocessable
from marketdata.models import Asset
from portfolios.brokers import Fill
from portfolios.models import Portfolio
from portfolios.services.execution import Ledger, OpenLot, PositionState
from portfolios.trading import ProposedTrade

DAY = date(2024, 6, 3)
AT = datetime(2024, 6, 3, 20, 0, tzinfo=UTC)


def _fill(symbol, side, qty, price, commission, cash_flow):
    return Fill(symbol=symbol, side=side, quantity=D(qty), price=D(price), market_price=D(price),
                commission=D(commission), slippage=D(0), cash_flow=D(cash_flow), executed_at=AT,
                broker_ref=f"ref-{symbol}-{side}")


def _order(symbol, side, qty):
    return ProposedTrade(symbol=symbol, side=side, quantity=D(qty), est_price=D(0), est_cost=D(0),
                         reason=f"{side} {symbol}")


@pytest.fixture
def ledger():
    portfolio = Portfolio(pk=7, cash=D("1000"), lot_method="fifo", ledger_version=3)
    assets = {"AAA": Asset(pk=1, symbol="AAA"), "BBB": Asset(pk=2, symbol="BBB")}
    lots = [OpenLot(11, 1, date(2023, 1, 2), D("10"), D("500")), OpenLot(12, 1, date(2024, 5, 1), D("5"), D("300"))]
    positions = {1: PositionState(21, 1, D("15"))}
    # no loss closing in the wash-sale window (given, so that the ledger needs no query)
    return Ledger(portfolio, assets, lots, positions, broker_name="paper", loss_closings={})


def test_sell_then_buy_moves_lots_positions_and_cash_in_records(ledger):
    # when 12 AAA are sold (FIFO: all of lot 11, 2 of lot 12) and 4 BBB bought
    ledger.apply(_order("AAA", "sell", "12"), _fill("AAA", "sell", "12", "70", "1", "839"), decision=None, as_of=DAY)
    ledger.apply(_order("BBB", "buy", "4"), _fill("BBB", "buy", "4", "50", "1", "-201"), decision=None, as_of=DAY)
    # then the records hold the rows to write, and nothing touched the database
    sell, buy = ledger.trades
    assert (sell.portfolio_id, sell.asset_id, sell.side, sell.broker, sell.trade_date) == (7, 1, "sell", "paper", DAY)
    assert [(c.trade_index, c.lot_id, c.quantity, c.cost_basis, c.holding_period) for c in ledger.closings] == [
        (0, 11, D("10"), D("500"), "long"), (0, 12, D("2"), D("120.0000"), "short"),
    ]
    proceeds = [c.proceeds for c in ledger.closings]
    assert sum(proceeds) == D("839")
    assert sell.realized_gain == D("839") - D("620")
    assert (ledger.lots[11].quantity_open, ledger.lots[12].quantity_open, ledger.lots[12].cost_basis_open) == (
        D("0"), D("3"), D("180.0000"),
    )
    assert ledger.touched_lots == {11, 12}
    assert [(lot.trade_index, lot.asset_id, lot.quantity, lot.cost_basis) for lot in ledger.new_lots] == [
        (1, 2, D("4"), D("201")),
    ]
    assert (buy.realized_gain, ledger.positions[1].quantity, ledger.positions[2]) == (
        None, D("3"), PositionState(None, 2, D("4")),
    )
    assert ledger.touched_positions == {1, 2}
    assert ledger.cash == D("1000") + D("839") - D("201")


def test_selling_more_than_the_open_lots_is_refused_before_any_write(ledger):
    # when 16 AAA are sold out of 15 in open lots
    with pytest.raises(Unprocessable) as err:
        ledger.apply(_order("AAA", "sell", "16"), _fill("AAA", "sell", "16", "70", "1", "1119"),
                     decision=None, as_of=DAY)
    # then
    assert err.value.code == "insufficient_shares"
    assert (ledger.lots[11].quantity_open, ledger.closings, ledger.cash) == (D("10"), [], D("1000"))


def test_a_buy_beyond_the_cash_is_refused(ledger):
    with pytest.raises(Unprocessable) as err:
        ledger.apply(_order("BBB", "buy", "30"), _fill("BBB", "buy", "30", "50", "1", "-1501"),
                     decision=None, as_of=DAY)
    assert (err.value.code, err.value.extra) == ("insufficient_cash", {"cash": "-501"})


def test_a_buy_washes_a_recent_loss_closing_it_is_given():
    # given a closing of 10 AAA at a 100 loss on 2024-05-20 (lot bought 2024-05-01), nothing washed yet
    portfolio = Portfolio(pk=7, cash=D("1000"), lot_method="fifo", ledger_version=3)
    assets = {"AAA": Asset(pk=1, symbol="AAA")}
    loss = (31, 11, D("10"), D("400"), D("500"), D("-100"), "short", date(2024, 5, 20), date(2024, 5, 1), None,
            D("0"), D("0"))
    ledger = Ledger(portfolio, assets, [], {}, broker_name="paper", loss_closings={1: [loss]})
    # when 4 AAA are bought back 14 days later
    ledger.apply(_order("AAA", "buy", "4"), _fill("AAA", "buy", "4", "45", "0", "-180"), decision=None, as_of=DAY)
    # then 4/10 of the loss moves into the new lot, and the stored closing is updated
    (lot,) = ledger.new_lots
    assert (lot.quantity, lot.cost_basis, lot.wash_adjustment, lot.holding_from, lot.wash_replacement) == (
        D("4"), D("220"), D("40"), date(2024, 5, 15), True,  # 2024-06-03 less the 19 days held
    )
    assert ledger.rewashed_rows() == [(31, D("4"), D("40"))]
    (wash,) = ledger.washes
    assert (wash.closing, wash.lot, wash.quantity, wash.disallowed_loss, wash.holding_days) == (31, ("new", 0), D("4"), D("40"), 19)
