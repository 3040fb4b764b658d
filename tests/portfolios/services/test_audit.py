"""The ledger audit names each broken invariant with its numbers, in a fixed order.

A ledger with a split, a wash sale and a paid dividend is built through the services, then
corrupted behind their back one way per test; each test pins the exact violations.
"""

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import pytest

from marketdata.models import Asset, CorporateAction
from portfolios.models import (
    CashMovement,
    CorporateActionApplication,
    LotClosing,
    Portfolio,
    Position,
    TaxLot,
    Trade,
    WashSale,
)
from portfolios.services import corporate_actions_apply, ledger_audit, trades_execute
from portfolios.services.audit import LedgerViolation
from portfolios.trading import ProposedTrade

DAY1, DAY2, DAY3 = date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)


def order(symbol, side, qty, **kw):
    return ProposedTrade(symbol=symbol, side=side, quantity=D(str(qty)), est_price=D(0), est_cost=D(0), reason=side, **kw)


@pytest.fixture
def ledger(portfolio):
    """DAY1: 5 AAA, 10 CCC, 4 BBB; DAY2: 5 AAA, CCC splits 2-for-1, BBB goes ex a 0.50 dividend
    paid DAY3; DAY3: 3 AAA of the first lot sold at a loss (washed by the DAY2 lot)."""
    trades_execute(portfolio=portfolio, trades=[order("AAA", "buy", 5), order("CCC", "buy", 10), order("BBB", "buy", 4)], as_of=DAY1)
    trades_execute(portfolio=portfolio, trades=[order("AAA", "buy", 5)], as_of=DAY2)
    for symbol, kind, extra in (("CCC", "split", {"ratio": D(2), "numerator": D(2), "denominator": D(1)}),
                                ("BBB", "dividend", {"ratio": D("0.5"), "pay_date": DAY3})):
        CorporateAction.objects.create(asset=Asset.objects.get(symbol=symbol), date=DAY2, kind=kind, **extra)
    corporate_actions_apply(as_of=DAY3)
    first = TaxLot.objects.filter(asset__symbol="AAA").order_by("acquired_on").first()
    trades_execute(portfolio=portfolio, trades=[order("AAA", "sell", 3, lot_ids=(first.pk,))], as_of=DAY3)
    portfolio.refresh_from_db()
    return portfolio


@pytest.fixture
def unchecked(db):
    """The database's check constraints off (SQLite), to reach the audit's checks behind them."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("turns SQLite's check constraints off")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA ignore_check_constraints = ON")
    yield
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA ignore_check_constraints = OFF")


def test_the_ledger_built_through_the_services_has_no_violation(ledger):
    # then: every kind of row the checks read is there
    assert WashSale.objects.count() == 1
    assert sorted(CorporateActionApplication.objects.values_list("kind", "status")) == [
        ("dividend", "paid"), ("split", "applied"),
    ]
    assert ledger_audit() == []
    assert ledger_audit(portfolio=ledger) == []


def test_cash_that_no_movement_explains_is_a_mismatch_and_negative_cash_is_refused(ledger, unchecked):
    # given
    Portfolio.objects.filter(pk=ledger.pk).update(cash=D("-5"))
    pid = ledger.pk
    # when
    violations = ledger_audit(statements=False)
    # then
    assert violations == [
        LedgerViolation(pid, "cash_mismatch", "cash differs from movements + trade cash flows", str(ledger.cash), "-5.0000"),
        LedgerViolation(pid, "negative_cash", "cash is negative", "0", "-5.0000"),
    ]
    # and a portfolio allowed to go negative is only a mismatch
    Portfolio.objects.filter(pk=pid).update(allow_negative_cash=True)
    assert [v.code for v in ledger_audit(statements=False)] == ["cash_mismatch"]


def test_a_negative_position_differs_from_its_lots_and_its_trades(ledger, unchecked):
    # given
    aaa = Asset.objects.get(symbol="AAA").pk
    Position.objects.filter(portfolio=ledger, asset_id=aaa).update(quantity=D(-1))
    pid = ledger.pk
    # when
    violations = ledger_audit(statements=False)
    # then
    assert violations == [
        LedgerViolation(pid, "negative_quantity", f"position in asset {aaa} is negative", "0", "-1.00000000"),
        LedgerViolation(pid, "position_lot_mismatch", f"position in asset {aaa} differs from its open lots", "7.00000000", "-1.00000000"),
        LedgerViolation(
            pid, "position_trade_mismatch", f"position in asset {aaa} differs from buys - sells + splits", "7.00000000", "-1.00000000",
        ),
    ]


def test_a_split_that_added_other_shares_than_the_position_holds_is_a_trade_mismatch(ledger):
    # given
    ccc = Asset.objects.get(symbol="CCC").pk
    CorporateActionApplication.objects.filter(kind="split").update(quantity_delta=D(9))
    # when / then
    assert ledger_audit(statements=False) == [
        LedgerViolation(
            ledger.pk, "position_trade_mismatch", f"position in asset {ccc} differs from buys - sells + splits",
            "19.00000000", "20.00000000",
        ),
    ]


def test_a_lot_whose_open_shares_disagree_with_its_closings_and_a_negative_lot(ledger, unchecked):
    # given the lot of 10 CCC (no closing) set to -2 open shares
    ccc = Asset.objects.get(symbol="CCC").pk
    lot = TaxLot.objects.get(asset_id=ccc)
    TaxLot.objects.filter(pk=lot.pk).update(quantity_open=D(-2))
    pid = ledger.pk
    # when
    violations = ledger_audit(statements=False)
    # then the position check sees the lots' sum first, the lot checks the lot
    assert violations == [
        LedgerViolation(pid, "position_lot_mismatch", f"position in asset {ccc} differs from its open lots", "-2.00000000", "20.00000000"),
        LedgerViolation(pid, "negative_quantity", f"lot {lot.pk} is negative", "0", "-2.00000000"),
        LedgerViolation(pid, "lot_closing_mismatch", f"lot {lot.pk}'s closed shares differ from its closings", "0", "22.00000000"),
    ]


def test_a_trade_whose_cash_flow_or_realized_gain_is_off(ledger):
    # given the sale's cash flow one cent high and its realized gain zeroed
    sell = Trade.objects.get(side="sell")
    Trade.objects.filter(pk=sell.pk).update(cash_flow=sell.cash_flow + D("0.01"), realized_gain=D(0))
    pid = ledger.pk
    # when
    violations = ledger_audit(statements=False)
    # then
    assert violations == [
        LedgerViolation(pid, "cash_mismatch", "cash differs from movements + trade cash flows", str(ledger.cash + D("0.01")), str(ledger.cash)),
        LedgerViolation(pid, "trade_cash_flow", f"trade {sell.pk}'s cash flow is inconsistent", str(sell.cash_flow), str(sell.cash_flow + D("0.01"))),
        LedgerViolation(
            pid, "trade_realized_mismatch", f"trade {sell.pk}'s realized gain differs from its lot closings",
            str(sell.realized_gain), "0.0000",
        ),
    ]


def test_wash_sale_fields_that_differ_from_their_matches(ledger):
    # given the closing's disallowed loss and the replacement lot's adjustment both off by 1
    wash = WashSale.objects.get()
    closing, lot = wash.closing, wash.replacement_lot
    LotClosing.objects.filter(pk=closing.pk).update(wash_disallowed=closing.wash_disallowed + 1)
    TaxLot.objects.filter(pk=lot.pk).update(wash_adjustment=lot.wash_adjustment + 1)
    pid = ledger.pk
    # when
    violations = ledger_audit(statements=False)
    # then
    assert violations == [
        LedgerViolation(
            pid, "wash_sale_mismatch", f"closing {closing.pk}'s wash-sale fields differ from its matches",
            f"{wash.disallowed_loss} on {wash.quantity} shares", f"{closing.wash_disallowed + 1} on {closing.washed_quantity} shares",
        ),
        LedgerViolation(
            pid, "wash_sale_mismatch", f"replacement lot {lot.pk}'s wash adjustment differs from the losses moved into it",
            str(wash.disallowed_loss), str(lot.wash_adjustment + 1),
        ),
    ]


def test_wash_matches_of_a_closing_without_a_disallowed_loss(ledger):
    # given
    wash = WashSale.objects.get()
    LotClosing.objects.filter(pk=wash.closing_id).update(wash_disallowed=D(0))
    # when / then: no portfolio found for a closing the scan skipped
    assert ledger_audit(statements=False) == [
        LedgerViolation(0, "wash_sale_mismatch", f"closing {wash.closing_id} has matches but no disallowed loss", str(wash.disallowed_loss), "0"),
    ]


def test_a_paid_dividend_whose_movement_differs(ledger):
    # given the dividend's movement 2 instead of 2.00 (cash moved with it, so only the dividend is off)
    paid = CorporateActionApplication.objects.get(kind="dividend")
    CashMovement.objects.filter(pk=paid.cash_movement_id).update(amount=D(3))
    Portfolio.objects.filter(pk=ledger.pk).update(cash=ledger.cash + 1)
    # when / then
    assert ledger_audit(statements=False) == [
        LedgerViolation(ledger.pk, "dividend_mismatch", f"paid dividend {paid.pk} differs from its cash movement", "2.0000", "3.0000"),
    ]


def test_a_paid_dividend_without_a_movement(ledger):
    # given
    paid = CorporateActionApplication.objects.get(kind="dividend")
    CorporateActionApplication.objects.filter(pk=paid.pk).update(cash_movement=None)
    # when / then
    assert ledger_audit(statements=False) == [
        LedgerViolation(ledger.pk, "dividend_mismatch", f"paid dividend {paid.pk} differs from its cash movement", "2.0000", "None"),
    ]


def test_the_audit_of_one_portfolio_leaves_the_others_out(ledger, owner):
    # given a second, broken portfolio
    from portfolios.services import portfolio_create

    other = portfolio_create(owner=owner, name="Other")
    Portfolio.objects.filter(pk=other.pk).update(cash=D("7"))
    # when / then
    assert ledger_audit(portfolio=ledger) == []
    assert [(v.portfolio_id, v.code) for v in ledger_audit()] == [
        (other.pk, "cash_mismatch"), (other.pk, "statement_mismatch"),
    ]


def test_a_statement_that_disagrees_with_the_portfolio(ledger):
    # given
    Portfolio.objects.filter(pk=ledger.pk).update(cash=ledger.cash + 1)
    held = sorted(
        ((ledger.pk, s), q) for s, q in Position.objects.filter(portfolio=ledger, quantity__gt=0).values_list("asset__symbol", "quantity")
    )
    # when
    violations = [v for v in ledger_audit() if v.code == "statement_mismatch"]
    # then
    assert violations == [
        LedgerViolation(
            ledger.pk, "statement_mismatch", "the statement does not reconcile with the portfolio's cash and positions",
            f"cash {ledger.cash + 1}, {held}", f"cash {ledger.cash}, {held}, reconciled=True",
        ),
    ]


def test_tax_report_totals_that_differ_from_the_closings_and_movements(ledger, monkeypatch):
    # given tax reports that count one line too many short-term and 1.00 more dividends
    import portfolios.statements as statements

    real = statements.tax_report_get

    def skewed(*, portfolio, year):
        report = real(portfolio=portfolio, year=year)
        return replace(
            report,
            short_term=replace(report.short_term, lines=report.short_term.lines + 1),
            dividend_totals=replace(report.dividend_totals, total=report.dividend_totals.total + 1),
        )

    monkeypatch.setattr(statements, "tax_report_get", skewed)
    closing = LotClosing.objects.get()
    net = closing.realized_gain + closing.wash_disallowed
    pid = ledger.pk
    # when
    violations = [v for v in ledger_audit() if v.code == "tax_report_mismatch"]
    # then
    assert violations == [
        LedgerViolation(
            pid, "tax_report_mismatch", "2024 short-term totals of the tax report differ from the closings",
            str((net, closing.proceeds, 1)), str((net, closing.proceeds, 2)),
        ),
        LedgerViolation(pid, "tax_report_mismatch", "2024 dividends of the tax report differ from the movements", "2.0000", "3.0000"),
    ]
