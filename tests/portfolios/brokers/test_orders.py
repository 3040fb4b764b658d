"""The order lifecycle against the fake Alpaca (in a thread): placed, sent, filled fill by fill."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from portfolios.brokers import OrderTicket
from portfolios.models import Decision, Order, OrderFill, Position, TaxLot, Trade
from portfolios.services import ledger_audit
from portfolios.services.orders import (
    decision_settle,
    open_orders_resolve,
    orders_submit,
    orders_sync,
    trade_update_apply,
)

D = Decimal
SATURDAY = datetime(2024, 5, 18, 15, 0, tzinfo=UTC)
MONDAY_OPEN = datetime(2024, 5, 20, 13, 31, tzinfo=UTC)  # 09:31 New York (EDT)


def _ledger(portfolio):
    portfolio.refresh_from_db()
    positions = {p.asset.symbol: p.quantity for p in Position.objects.filter(portfolio=portfolio, quantity__gt=0)}
    return portfolio.cash, positions, Trade.objects.filter(portfolio=portfolio).count()


def test_placing_records_pending_orders_sells_first_with_stable_client_ids_and_sends_nothing(alpaca_portfolio, place,
                                                                                             fake_alpaca):
    # when a decision with a buy and a sell is placed
    decision, orders = place(alpaca_portfolio, ("AAA", "buy", "5", "100"), ("BBB", "sell", "2", "50"))
    # then the sell is leg 0, both pending, ids derived from the decision and leg; nothing reached the broker
    assert [(o.leg, o.side, o.symbol, o.status) for o in orders] == [(0, "sell", "BBB", "pending"),
                                                                    (1, "buy", "AAA", "pending")]
    assert [o.client_order_id for o in orders] == [f"rb-d{decision.pk}-l0", f"rb-d{decision.pk}-l1"]
    decision.refresh_from_db()
    assert decision.status == Decision.Status.SUBMITTED
    assert fake_alpaca.posts() == 0


def test_partial_fills_over_two_polls_move_the_ledger_after_each(alpaca_portfolio, place, fake_alpaca, committed):
    # given a buy of 10 AAA that the broker fills 4 @ 100.10, then 6 @ 100.20
    fake_alpaca.script("AAA", ("fill", "4", "100.10"), ("fill", None, "100.20"))
    decision, (order,) = place(alpaca_portfolio, ("AAA", "buy", "10", "100"))
    committed(orders_submit, decision_id=decision.pk)
    assert Order.objects.get(pk=order.pk).status == Order.Status.NEW
    # when the first poll sees the partial fill
    fake_alpaca.tick()
    committed(orders_sync)
    # then the ledger holds 4 shares bought at 100.10, and the order is partially filled
    assert _ledger(alpaca_portfolio) == (D("10000") - D("400.40"), {"AAA": D("4")}, 1)
    order.refresh_from_db()
    assert (order.status, order.filled_quantity, order.filled_avg_price) == ("partially_filled", D("4"), D("100.10"))
    assert list(TaxLot.objects.filter(portfolio=alpaca_portfolio).values_list("quantity_open", "cost_basis")) == [
        (D("4"), D("400.40"))]
    decision.refresh_from_db()
    assert decision.status == Decision.Status.SUBMITTED
    # when the second poll sees the rest (cumulative average 100.16)
    fake_alpaca.tick()
    committed(orders_sync)
    # then the second fill is 6 @ 100.20, the order is filled and the decision executed
    assert _ledger(alpaca_portfolio) == (D("10000") - D("400.40") - D("601.20"), {"AAA": D("10")}, 2)
    order.refresh_from_db()
    assert (order.status, order.filled_quantity, order.filled_avg_price) == ("filled", D("10"), D("100.16"))
    assert list(order.fills.values_list("quantity", "price")) == [(D("4"), D("100.10")), (D("6"), D("100.20"))]
    decision.refresh_from_db()
    assert (decision.status, decision.status_reason) == ("executed", "1 of 1 orders filled in full")
    assert ledger_audit(portfolio=alpaca_portfolio) == []
    # and a third poll records nothing new
    committed(orders_sync)
    assert _ledger(alpaca_portfolio)[2] == 2


def test_a_rejected_order_is_recorded_on_the_decision_and_changes_nothing_else(alpaca_portfolio, place, fake_alpaca,
                                                                               committed):
    # given a buy the broker accepts, then rejects
    fake_alpaca.script("AAA", ("reject",))
    before = _ledger(alpaca_portfolio)
    decision, (order,) = place(alpaca_portfolio, ("AAA", "buy", "3", "100"))
    committed(orders_submit, decision_id=decision.pk)
    # when it is polled
    fake_alpaca.tick()
    committed(orders_sync)
    # then the order is rejected, the decision failed and says why, the ledger is untouched
    order.refresh_from_db()
    assert (order.status, order.status_reason) == ("rejected", "rejected by the broker")
    decision.refresh_from_db()
    assert decision.status == Decision.Status.FAILED
    assert decision.status_reason == "0 of 1 orders filled in full; buy AAA rejected: rejected by the broker"
    assert _ledger(alpaca_portfolio) == before


def test_a_submission_refused_at_once_is_rejected_with_the_brokers_message(alpaca_portfolio, place, fake_alpaca,
                                                                           committed):
    # given the broker refuses BBB orders outright (403, insufficient buying power)
    fake_alpaca.reject_on_submit["BBB"] = (403, 40310000, "insufficient buying power")
    before = _ledger(alpaca_portfolio)
    decision, (order,) = place(alpaca_portfolio, ("BBB", "buy", "3", "50"))
    # when it is submitted
    summary = committed(orders_submit, decision_id=decision.pk)
    # then the order is rejected with the broker's words and nothing else changed
    order.refresh_from_db()
    assert (summary.refused, order.status, order.broker_order_id) == (1, "rejected", "")
    assert "insufficient buying power" in order.status_reason
    decision.refresh_from_db()
    assert decision.status == Decision.Status.FAILED
    assert _ledger(alpaca_portfolio) == before


def test_an_expired_order_keeps_its_partial_fill_and_the_decision_says_so(alpaca_portfolio, place, fake_alpaca,
                                                                          committed):
    # given a buy filled 2 of 5, then expired at the close
    fake_alpaca.script("AAA", ("fill", "2", "100"), ("expire",))
    decision, (order,) = place(alpaca_portfolio, ("AAA", "buy", "5", "100"))
    committed(orders_submit, decision_id=decision.pk)
    for _ in range(2):
        fake_alpaca.tick()
        committed(orders_sync)
    # then 2 shares are in the ledger, the order expired, the decision executed with the note
    order.refresh_from_db()
    assert (order.status, order.filled_quantity) == ("expired", D("2"))
    assert _ledger(alpaca_portfolio)[1] == {"AAA": D("2")}
    decision.refresh_from_db()
    assert decision.status == Decision.Status.EXECUTED
    assert decision.status_reason == "0 of 1 orders filled in full; buy AAA expired (2 of 5): expired by the broker"


def test_orders_outside_market_hours_are_held_for_the_next_open(alpaca_portfolio, place, fake_alpaca, committed):
    # given a Saturday
    fake_alpaca.set_time(SATURDAY)
    decision, (order,) = place(alpaca_portfolio, ("AAA", "buy", "2", "100"))
    # when the decision is submitted
    summary = committed(orders_submit, decision_id=decision.pk)
    # then nothing is sent; the order waits for Monday's open (from the broker's clock)
    order.refresh_from_db()
    assert (summary.held, fake_alpaca.posts(), order.status) == (1, 0, "pending")
    assert order.submit_after == datetime(2024, 5, 20, 13, 30, tzinfo=UTC)
    assert order.status_reason == "held for the market's open (Mon 2024-05-20 09:30 New York)"
    # when Monday's open comes and the beat polls
    fake_alpaca.set_time(MONDAY_OPEN)
    committed(orders_sync)
    fake_alpaca.tick()
    committed(orders_sync)
    # then the order went out and filled
    order.refresh_from_db()
    assert (fake_alpaca.posts(), order.status, order.filled_quantity) == (1, "filled", D("2"))


def test_buys_wait_for_the_sells_and_are_cut_to_the_cash_they_leave(alpaca_portfolio, place, fake_alpaca, committed):
    # given 20 BBB held (bought through the broker) and 9,000 of cash spent elsewhere: 1,000 left
    _, _ = place(alpaca_portfolio, ("BBB", "buy", "20", "50"))
    committed(orders_submit, decision_id=Decision.objects.latest("id").pk)
    fake_alpaca.tick()
    committed(orders_sync)
    from portfolios.services import cash_withdraw

    cash_withdraw(portfolio=alpaca_portfolio, amount=D("8000"))
    fake_alpaca.cash -= D("8000")
    # and a decision selling 10 BBB (~500) to buy 20 AAA (~2,000)
    fake_alpaca.script("BBB", ("fill", None, "49"))
    decision, (_sell, buy) = place(alpaca_portfolio, ("BBB", "sell", "10", "50"), ("AAA", "buy", "20", "100"))
    # when it is submitted: the sell goes, the buy waits
    committed(orders_submit, decision_id=decision.pk)
    buy.refresh_from_db()
    assert (buy.status, buy.status_reason, fake_alpaca.posts()) == ("pending", "waiting for the decision's sells", 2)
    # when the sell fills (cash 1,000 + 490 = 1,490) and the poll frees the buy
    fake_alpaca.tick()
    committed(orders_sync)
    # then the buy went out cut to what 1,490 pays at 100 + 50 bps buffer, in whole shares:
    # floor(1490 / 100.5) = floor(14.83) = 14
    buy.refresh_from_db()
    assert buy.planned_quantity == D("20")
    assert buy.quantity == D("14")
    assert buy.status == "new"
    assert buy.status_reason == "cut from 20 to 14 shares: the cash after the sells"


def test_a_worker_killed_after_submitting_resubmits_the_same_client_order_id_and_finds_the_order(
    alpaca_portfolio, place, fake_alpaca, committed,
):
    # given an order the broker received, but whose answer the worker never recorded (killed)
    decision, (order,) = place(alpaca_portfolio, ("AAA", "buy", "3", "100"))
    Order.objects.filter(pk=order.pk).update(submit_attempts=1)
    from portfolios.brokers.alpaca import AlpacaBroker

    AlpacaBroker(api_key="test-key", secret_key="test-secret", base_url=fake_alpaca.url).order_submit(
        OrderTicket(order.client_order_id, "AAA", "buy", D("3")))
    # when the redelivered task submits again
    committed(orders_submit, decision_id=decision.pk)
    # then the broker saw the same client_order_id twice but holds one order, and ours is recorded
    order.refresh_from_db()
    assert (fake_alpaca.posts(), len(fake_alpaca.orders)) == (2, 1)
    assert order.broker_order_id == next(iter(fake_alpaca.orders))
    assert (order.status, order.submit_attempts) == ("new", 2)


def test_a_fill_pushed_by_the_stream_and_then_polled_is_recorded_once(alpaca_portfolio, place, fake_alpaca,
                                                                      committed):
    # given a submitted order filled at the broker
    decision, (order,) = place(alpaca_portfolio, ("AAA", "buy", "3", "100"))
    committed(orders_submit, decision_id=decision.pk)
    fake_alpaca.script("AAA", ("fill", None, "99.5"))
    fake_alpaca.tick()
    from portfolios.brokers import FillEvent
    from portfolios.brokers.alpaca import AlpacaBroker

    broker = AlpacaBroker(api_key="test-key", secret_key="test-secret", base_url=fake_alpaca.url)
    order.refresh_from_db()
    snapshot = broker.order_get(order.broker_order_id)
    # when the trade update arrives with its execution id, and the poll runs afterwards
    committed(trade_update_apply, snapshot=snapshot,
              fill=FillEvent(D("3"), D("99.5"), datetime(2024, 5, 15, 14, 5, tzinfo=UTC), "exec-1"))
    committed(orders_sync)
    # then one fill, one trade
    assert list(OrderFill.objects.filter(order=order).values_list("fill_ref", "quantity", "price")) == [
        ("exec-1", D("3"), D("99.5"))]
    assert Trade.objects.filter(portfolio=alpaca_portfolio).count() == 1


def test_a_fill_the_ledger_refuses_pauses_the_portfolio_and_keeps_the_error(alpaca_portfolio, place, fake_alpaca,
                                                                             committed):
    # given a filled buy bigger than the ledger's cash (the broker lent it)
    fake_alpaca.cash = D("1000000")
    decision, (order,) = place(alpaca_portfolio, ("AAA", "buy", "200", "100"))
    Order.objects.filter(pk=order.pk).update(status="pending")
    committed(orders_submit, decision_id=decision.pk)  # cut to the cash: restore the full size at the broker
    order.refresh_from_db()
    assert order.quantity == D("99")
    fake_alpaca.orders[order.broker_order_id]["qty"] = D("200")
    fake_alpaca.tick()
    # when the poll sees 200 shares bought for 20,000
    committed(orders_sync)
    # then the ledger is untouched, the order says why, autonomy is paused
    order.refresh_from_db()
    assert (order.filled_quantity, order.broker_filled_quantity) == (D("0"), D("200"))
    assert "refused by the ledger" in order.ledger_error
    alpaca_portfolio.autonomy.refresh_from_db()
    assert alpaca_portfolio.autonomy.enabled is False
    assert _ledger(alpaca_portfolio)[2] == 0


@pytest.mark.parametrize(("policy", "expected_wait"), [("wait", True), ("cancel", False)])
def test_a_cycle_waits_for_or_cancels_the_previous_days_open_orders(alpaca_portfolio, place, fake_alpaca, committed,
                                                                   policy, expected_wait):
    # given yesterday's order still open at the broker
    from portfolios.models import BrokerAccount

    BrokerAccount.objects.filter(portfolio=alpaca_portfolio).update(open_orders_policy=policy)
    decision, (order,) = place(alpaca_portfolio, ("AAA", "buy", "3", "100"))
    committed(orders_submit, decision_id=decision.pk)
    # when the next cycle starts
    waiting = committed(open_orders_resolve, portfolio_ids=[alpaca_portfolio.pk])
    # then it waits (policy wait) or the order is canceled and the cycle may go on (policy cancel)
    order.refresh_from_db()
    if expected_wait:
        assert waiting == {alpaca_portfolio.pk: f"1 orders of decision #{decision.pk} are still open; waiting for them"}
        assert order.status == "new"
    else:
        assert waiting == {}
        assert (order.status, fake_alpaca.orders[order.broker_order_id]["status"]) == ("canceled", "canceled")
        decision.refresh_from_db()
        assert decision.status == Decision.Status.FAILED


def test_settling_waits_until_every_order_is_final(alpaca_portfolio, place, fake_alpaca, committed):
    # given two orders, one filled and one still open
    fake_alpaca.script("BBB", ("fill", "1", "50"))
    decision, (_first, _second) = place(alpaca_portfolio, ("AAA", "buy", "1", "100"), ("BBB", "buy", "2", "50"))
    committed(orders_submit, decision_id=decision.pk)
    fake_alpaca.tick()
    committed(orders_sync)
    # then the decision is not settled yet
    assert decision_settle(decision_id=decision.pk) is None
    decision.refresh_from_db()
    assert decision.status == Decision.Status.SUBMITTED


def test_recording_a_fill_costs_a_constant_number_of_queries(alpaca_portfolio, place, fake_alpaca, committed,
                                                              django_assert_max_num_queries):
    # given a submitted buy, filled at the broker in two parts
    from portfolios.brokers.alpaca import AlpacaBroker
    from portfolios.services.orders import order_state_apply

    fake_alpaca.script("AAA", ("fill", "1", "100"), ("fill", None, "101"))
    decision, (order,) = place(alpaca_portfolio, ("AAA", "buy", "3", "100"))
    committed(orders_submit, decision_id=decision.pk)
    order.refresh_from_db()
    broker = AlpacaBroker(api_key="test-key", secret_key="test-secret", base_url=fake_alpaca.url)
    for _ in range(2):
        fake_alpaca.tick()
        snapshot = broker.order_get(order.broker_order_id)
        # when one fill is recorded: locks, lots, positions, the loss closings a buy may wash
        # (wash-sale rule), the ledger flush, the fill row, the order
        with django_assert_max_num_queries(16):
            order_state_apply(order=order.pk, snapshot=snapshot)
    order.refresh_from_db()
    assert order.filled_quantity == D("3")
