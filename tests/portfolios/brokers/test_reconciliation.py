"""Reconciliation: the broker's positions and cash vs the ledger; pausing; accepting the broker's numbers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from common.errors import Conflict
from portfolios.models import CashMovement, Position, Reconciliation, Trade
from portfolios.services import ledger_audit
from portfolios.services.orders import orders_submit, orders_sync
from portfolios.services.reconciliation import (
    reconciliation_accept,
    reconciliation_dismiss,
    reconciliation_run,
)

D = Decimal


@pytest.fixture
def traded(alpaca_portfolio, place, fake_alpaca, committed):
    """10 AAA bought at 100 through the fake broker; ledger and broker agree (cash 9,000)."""
    decision, _ = place(alpaca_portfolio, ("AAA", "buy", "10", "100"))
    committed(orders_submit, decision_id=decision.pk)
    fake_alpaca.tick()
    committed(orders_sync)
    alpaca_portfolio.refresh_from_db()
    return alpaca_portfolio


def _position(portfolio, symbol):
    return Position.objects.filter(portfolio=portfolio, asset__symbol=symbol).values_list("quantity", flat=True).first()


def test_a_ledger_that_agrees_with_the_broker_is_matched_and_nothing_is_paused(traded):
    row = reconciliation_run(portfolio=traded)
    assert (row.status, row.cash_difference, row.differences) == ("matched", D("0"), [])
    traded.autonomy.refresh_from_db()
    assert traded.autonomy.enabled is True


def test_an_injected_position_difference_raises_a_mismatch_and_pauses_autonomy(traded, fake_alpaca):
    # given the broker holds 2 more AAA and 150 more cash than the ledger knows of
    fake_alpaca.positions["AAA"] = (D("12"), D("100"))
    fake_alpaca.cash += D("150")
    # when reconciled
    row = reconciliation_run(portfolio=traded, trigger="daily")
    # then a mismatch with each difference, and the portfolio is paused
    assert row.status == Reconciliation.Status.MISMATCH
    assert (row.ledger_cash, row.broker_cash, row.cash_difference) == (D("9000"), D("9150"), D("150"))
    assert [(d["symbol"], d["ledger_quantity"], d["broker_quantity"], d["difference"]) for d in row.differences] == [
        ("AAA", "10.00000000", "12", "2.00000000")]
    traded.autonomy.refresh_from_db()
    assert (traded.autonomy.enabled, traded.autonomy.paused_reason.startswith(f"reconciliation #{row.pk}")) == (False, True)
    assert row.paused_autonomy is True


def test_accepting_the_brokers_numbers_writes_adjustments_that_make_the_ledger_equal_the_broker(traded, fake_alpaca):
    # given the mismatch above (2 AAA at an average entry of 100; 150 cash)
    fake_alpaca.positions["AAA"] = (D("12"), D("100"))
    fake_alpaca.cash += D("150")
    row = reconciliation_run(portfolio=traded)
    # when an operator accepts the broker's numbers
    resolved = reconciliation_accept(reconciliation=row, note="shares transferred in")
    # then: a buy of 2 AAA at 100 (-200 cash) and a deposit of 350 bring the ledger to 12 AAA and 9,150 cash
    traded.refresh_from_db()
    assert (_position(traded, "AAA"), traded.cash) == (D("12"), D("9150"))
    (trade,) = Trade.objects.filter(pk__in=resolved.adjustments["trades"])
    assert (trade.side, trade.quantity, trade.price, trade.tags) == ("buy", D("2"), D("100"), ["reconciliation"])
    (movement,) = CashMovement.objects.filter(pk__in=resolved.adjustments["cash_movements"])
    assert (movement.kind, movement.amount) == ("deposit", D("350"))
    assert (resolved.status, resolved.resolution) == ("resolved", "accepted_broker")
    assert ledger_audit(portfolio=traded) == []
    traded.autonomy.refresh_from_db()
    assert traded.autonomy.enabled is True
    # and the next reconciliation matches
    assert reconciliation_run(portfolio=traded).status == "matched"


def test_accepting_fewer_shares_sells_them_from_the_lots_at_the_brokers_price(traded, fake_alpaca):
    fake_alpaca.positions["AAA"] = (D("7"), D("100"))
    fake_alpaca.prices["AAA"] = D("110")
    fake_alpaca.cash += D("330")  # the broker sold 3 at 110
    row = reconciliation_run(portfolio=traded)
    reconciliation_accept(reconciliation=row)
    traded.refresh_from_db()
    assert (_position(traded, "AAA"), traded.cash) == (D("7"), D("9330"))
    assert ledger_audit(portfolio=traded) == []
    assert not CashMovement.objects.filter(note__startswith=f"reconciliation #{row.pk}").exists()


def test_accepting_after_the_ledger_moved_is_a_conflict_and_changes_nothing(traded, fake_alpaca):
    fake_alpaca.cash += D("10")
    row = reconciliation_run(portfolio=traded)
    from portfolios.services import cash_deposit

    cash_deposit(portfolio=traded, amount=D("5"))
    with pytest.raises(Conflict) as caught:
        reconciliation_accept(reconciliation=row)
    assert caught.value.code == "reconciliation_stale"
    row.refresh_from_db()
    assert row.status == "mismatch"


def test_dismissing_keeps_the_ledger_and_resumes(traded, fake_alpaca):
    fake_alpaca.cash += D("10")
    row = reconciliation_run(portfolio=traded)
    reconciliation_dismiss(reconciliation=row, note="broker will fix")
    traded.refresh_from_db()
    row.refresh_from_db()
    assert (traded.cash, row.status, row.resolution) == (D("9000"), "resolved", "dismissed")
    with pytest.raises(Conflict):
        reconciliation_dismiss(reconciliation=row)


def test_an_unreachable_broker_gives_a_failed_reconciliation_and_pauses_nothing(traded, fake_alpaca):
    fake_alpaca.unavailable = True
    row = reconciliation_run(portfolio=traded)
    assert row.status == "failed"
    assert "503" in row.error
    traded.autonomy.refresh_from_db()
    assert traded.autonomy.enabled is True


def test_a_newer_mismatch_supersedes_the_open_one(traded, fake_alpaca):
    fake_alpaca.cash += D("10")
    first = reconciliation_run(portfolio=traded)
    second = reconciliation_run(portfolio=traded)
    first.refresh_from_db()
    assert (first.status, first.resolution_note, second.status) == (
        "resolved", f"superseded by reconciliation #{second.pk}", "mismatch")


def test_a_mismatch_reaches_the_investor_the_dashboard_and_metrics_once_committed(
    traded, fake_alpaca, django_capture_on_commit_callbacks, admin_client
):
    from prometheus_client.parser import text_string_to_metric_families

    from rebalancer.autopilot.models import Notification

    # given the broker holds 2 more AAA and 150 more cash than the ledger
    fake_alpaca.positions["AAA"] = (D("12"), D("100"))
    fake_alpaca.cash += D("150")
    # when reconciled: nothing is announced before the commit
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        row = reconciliation_run(portfolio=traded, trigger="daily")
        assert not Notification.objects.filter(portfolio=traded).exists()
    assert callbacks
    # then the investor is told in words, with what differs, as a risk notification (pushed)
    (note,) = Notification.objects.filter(portfolio=traded)
    assert (note.user_id, note.kind) == (traded.owner_id, "risk")
    assert "needs a check" in note.title and "AAA" in note.body and "150.00 USD" in note.body
    assert "paused" in note.body
    # and the operators see it: the dashboard's figure links to the open mismatches, /metrics counts it
    page = admin_client.get("/ops/").content.decode()
    assert 'data-figure="reconciliation_mismatches">1<' in page
    assert "status=mismatch" in page
    metrics = admin_client.get("/metrics").content.decode()
    (family,) = [f for f in text_string_to_metric_families(metrics) if f.name.endswith("reconciliation_mismatches_open")]
    assert [s.value for s in family.samples] == [1.0]
    # once dismissed it no longer counts
    reconciliation_dismiss(reconciliation=row, note="broker corrects itself")
    metrics = admin_client.get("/metrics").content.decode()
    (family,) = [f for f in text_string_to_metric_families(metrics) if f.name.endswith("reconciliation_mismatches_open")]
    assert [s.value for s in family.samples] == [0.0]
