"""The Alpaca adapter (alpaca-py underneath) against the fake v2 API: shapes, errors, idempotence."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest

from portfolios.brokers import (
    BrokerAuthError,
    BrokerOrderNotFound,
    BrokerRejected,
    BrokerUnavailable,
    OrderTicket,
)
from portfolios.brokers.alpaca import AlpacaBroker, stream_url_for, trade_update_translate
from tests.portfolios.brokers.fake_alpaca import NEW_YORK, FakeAlpaca

D = Decimal


@pytest.fixture
def fake():
    with FakeAlpaca(cash=D("10000")) as server:
        server.prices.update({"AAA": D("100"), "BBB": D("50")})
        yield server


@pytest.fixture
def broker(fake):
    return AlpacaBroker(api_key=fake.api_key, secret_key=fake.secret_key, base_url=fake.url)


def test_account_and_positions_are_read_as_decimals(broker, fake):
    # given 3.5 AAA bought at 98
    fake.positions["AAA"] = (D("3.5"), D("98"))
    # when read
    account, positions = broker.account(), broker.positions()
    # then
    assert (account.account_number, account.cash, account.status, account.trading_blocked) == (
        "PA3FAKE00001", D("10000"), "ACTIVE", False)
    assert [(p.symbol, p.quantity, p.avg_entry_price, p.current_price) for p in positions] == [
        ("AAA", D("3.5"), D("98"), D("100"))]


def test_the_clock_knows_weekends_and_the_calendar_knows_holidays_and_early_closes(broker, fake):
    # given Saturday, a Monday holiday and an early close on Tuesday
    fake.set_time(datetime(2024, 5, 18, 15, 0, tzinfo=UTC))
    fake.holidays.add(date(2024, 5, 20))
    fake.early_closes[date(2024, 5, 21)] = time(13, 0)
    # when
    clock = broker.clock()
    days = broker.calendar(date(2024, 5, 17), date(2024, 5, 21))
    # then the market is closed until Tuesday 09:30 New York, and Tuesday closes at 13:00
    assert (clock.is_open, clock.next_open) == (False, datetime(2024, 5, 21, 9, 30, tzinfo=NEW_YORK))
    assert [(d.date, d.close) for d in days] == [
        (date(2024, 5, 17), datetime(2024, 5, 17, 16, 0, tzinfo=NEW_YORK)),
        (date(2024, 5, 21), datetime(2024, 5, 21, 13, 0, tzinfo=NEW_YORK)),
    ]


def test_market_and_limit_orders_carry_fractional_quantities_and_limits(broker, fake):
    # when a fractional market buy and a whole-share limit sell are submitted
    fake.positions["BBB"] = (D("5"), D("50"))
    market = broker.order_submit(OrderTicket("c-1", "AAA", "buy", D("1.23456789")))
    limit = broker.order_submit(OrderTicket("c-2", "BBB", "sell", D("5"), order_type="limit", limit_price=D("49.90")))
    # then Alpaca received exactly those quantities and limits
    assert (market.quantity, market.order_type, market.status) == (D("1.23456789"), "market", "new")
    assert (limit.quantity, limit.order_type, limit.limit_price) == (D("5"), "limit", D("49.9"))
    assert fake.orders[market.broker_order_id]["qty"] == D("1.23456789")


def test_resubmitting_a_known_client_order_id_returns_the_same_order(broker, fake):
    # given an order already at the broker
    first = broker.order_submit(OrderTicket("rb-d7-l0", "AAA", "buy", D("2")))
    # when the same ticket is submitted again (a worker killed before recording)
    second = broker.order_submit(OrderTicket("rb-d7-l0", "AAA", "buy", D("2")))
    # then Alpaca refused a duplicate and the adapter found the original
    assert second.broker_order_id == first.broker_order_id
    assert (fake.posts(), len(fake.orders)) == (2, 1)


def test_partial_fills_read_back_as_cumulative_quantity_and_average(broker, fake):
    fake.script("AAA", ("fill", "1", "100"), ("fill", None, "102"))
    order = broker.order_submit(OrderTicket("c-3", "AAA", "buy", D("4")))
    fake.tick()
    partial = broker.order_get(order.broker_order_id)
    fake.tick()
    filled = broker.order_get(order.broker_order_id)
    assert (partial.status, partial.filled_quantity, partial.filled_avg_price) == ("partially_filled", D("1"), D("100"))
    assert (filled.status, filled.filled_quantity, filled.filled_avg_price) == ("filled", D("4"), D("101.5"))


@pytest.mark.parametrize(
    ("setup", "error", "code"),
    [
        (lambda f: f.reject_on_submit.update(AAA=(403, 40310000, "insufficient buying power")), BrokerRejected,
         "40310000"),
        (lambda f: f.prices.pop("AAA"), BrokerRejected, "40010001"),
        (lambda f: setattr(f, "unavailable", True), BrokerUnavailable, None),
    ],
)
def test_refusals_and_outages_become_typed_errors(broker, fake, setup, error, code):
    setup(fake)
    with pytest.raises(error) as caught:
        broker.order_submit(OrderTicket("c-4", "AAA", "buy", D("1")))
    assert type(caught.value) is error
    if code is not None:
        assert caught.value.code == code


def test_bad_keys_unknown_orders_and_an_unreachable_server(fake):
    with pytest.raises(BrokerAuthError):
        AlpacaBroker(api_key="wrong", secret_key="wrong", base_url=fake.url).account()
    good = AlpacaBroker(api_key=fake.api_key, secret_key=fake.secret_key, base_url=fake.url)
    with pytest.raises(BrokerOrderNotFound):
        good.order_get("00000000-0000-0000-0000-000000000000")
    assert good.order_by_client_id("never-sent") is None
    with pytest.raises(BrokerUnavailable):
        AlpacaBroker(api_key="k", secret_key="s", base_url="http://127.0.0.1:9", timeout_s=2).clock()


def test_canceling_a_final_order_is_not_an_error(broker, fake):
    order = broker.order_submit(OrderTicket("c-5", "AAA", "buy", D("1")))
    broker.order_cancel(order.broker_order_id)
    broker.order_cancel(order.broker_order_id)  # already canceled: Alpaca's 422 is swallowed
    assert broker.order_get(order.broker_order_id).status == "canceled"


def test_a_trade_update_message_gives_the_order_and_its_fill():
    # given a partial_fill message in the shape Alpaca's trade_updates stream sends
    from alpaca.trading.models import TradeUpdate

    from tests.portfolios.brokers.fake_alpaca import FakeAlpaca as Fake

    with Fake() as server:
        server.prices["AAA"] = D("100")
        server.script("AAA", ("fill", "1.5", "100.25"))
        created = server.submit({"symbol": "AAA", "qty": "4", "side": "buy", "type": "market",
                                 "time_in_force": "day", "client_order_id": "rb-d1-l0"})[1]
        server.tick()
        order_json = server._order_json(server.orders[created["id"]])
    update = TradeUpdate(event="partial_fill", execution_id="7c3b5e4c-0d7a-4c2f-9d3e-1f6b2a9e8d11",
                         order=order_json, timestamp="2024-05-15T14:00:05Z", position_qty="1.5", price="100.25",
                         qty="1.5")
    # when translated
    snapshot, fill = trade_update_translate(update)
    # then
    assert (snapshot.client_order_id, snapshot.status, snapshot.filled_quantity) == ("rb-d1-l0", "partially_filled",
                                                                                     D("1.5"))
    assert (fill.quantity, fill.price, fill.fill_ref) == (D("1.5"), D("100.25"), "7c3b5e4c-0d7a-4c2f-9d3e-1f6b2a9e8d11")
    assert stream_url_for("https://paper-api.alpaca.markets") == "wss://paper-api.alpaca.markets/stream"
