"""Tax report and account statement: exact lines and totals that reconcile with the ledger."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest

from marketdata.models import Asset, CorporateAction
from portfolios.models import CashMovement, LotClosing
from portfolios.services import (
    cash_movement_record,
    corporate_actions_apply,
    ledger_audit,
    trades_execute,
)
from portfolios.statements import statement_get, tax_report_get
from portfolios.trading import ProposedTrade

DAY1, DAY2, DAY3 = date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)
BASE = "/api/v1/portfolios"


def order(symbol, side, qty):
    return ProposedTrade(symbol=symbol, side=side, quantity=D(str(qty)), est_price=D(0), est_cost=D(0), reason=f"{side} {symbol}")


@pytest.fixture
def year_2024(portfolio):
    """Funded on 2024-01-01; buys on DAY1; a qualified BBB dividend; a loss sale washed by a buy back; a fee.

    Commission 0.1 % (min 1), slippage 10 bps: buy 10 AAA 1,002.001, 5 BBB 251.25; sell 4 AAA at 89.91 → 358.64
    (basis 400.8004, loss 42.1604); buy 2 AAA at 90.09 → 181.18, which washes 2 of the 4 loss shares.
    """
    CashMovement.objects.filter(portfolio=portfolio).update(at=datetime(2024, 1, 1, 15, tzinfo=UTC))
    trades_execute(portfolio=portfolio, trades=[order("AAA", "buy", 10), order("BBB", "buy", 5)], as_of=DAY1)
    CorporateAction.objects.create(asset=Asset.objects.get(symbol="BBB"), date=DAY2, kind="dividend", ratio=D("0.5"),
                                   pay_date=DAY3, qualified=True)
    corporate_actions_apply(as_of=DAY3)
    trades_execute(portfolio=portfolio, trades=[order("AAA", "sell", 4)], as_of=DAY3)
    trades_execute(portfolio=portfolio, trades=[order("AAA", "buy", 2)], as_of=DAY3)
    cash_movement_record(portfolio=portfolio, kind="fee", amount=D(5), at=datetime(2024, 1, 4, 22, tzinfo=UTC),
                         note="account fee")
    portfolio.refresh_from_db()
    return portfolio


def test_the_tax_report_has_the_washed_loss_the_dividend_and_totals_equal_to_the_ledger(year_2024):
    # when
    report = tax_report_get(portfolio=year_2024, year=2024)
    # then one Form 8949 line: half the 42.1604 loss disallowed (2 of 4 shares bought back)
    (line,) = report.realized
    assert (line.symbol, line.quantity, line.acquired_on, line.sold_on, line.term) == ("AAA", D(4), DAY1, DAY3, "short")
    assert (line.proceeds, line.cost_basis, line.adjustment_code, line.wash_sale_disallowed, line.gain) == (
        D("358.6400"), D("400.8004"), "W", D("21.0802"), D("-21.0802"),
    )
    assert (report.short_term.net, report.short_term.losses, report.long_term.lines, report.total.net) == (
        D("-21.0802"), D("-21.0802"), 0, D("-21.0802"),
    )
    (wash,) = report.wash_sales
    assert (wash.quantity, wash.disallowed_loss, wash.replacement_acquired_on, wash.holding_days_added) == (
        D(2), D("21.0802"), DAY3, 2,
    )
    (dividend,) = report.dividends
    assert (dividend.symbol, dividend.ex_date, dividend.pay_date, dividend.shares, dividend.amount, dividend.qualified) == (
        "BBB", DAY2, DAY3, D(5), D("2.5000"), D("2.5000"),
    )
    assert (report.dividend_totals.total, report.dividend_totals.qualified, report.fees, report.commissions) == (
        D("2.5000"), D("2.5000"), D("5.0000"), D("4.0010"),
    )
    # and the totals are the ledger's own aggregates
    closings = LotClosing.objects.filter(lot__portfolio=year_2024, closed_on__year=2024)
    assert report.total.net == sum(c.realized_gain + c.wash_disallowed for c in closings)
    assert ledger_audit() == []
    assert tax_report_get(portfolio=year_2024, year=2023).realized == []


def test_the_statement_reconciles_opening_lines_and_closing_to_the_cent(year_2024):
    # when
    statement = statement_get(portfolio=year_2024, start=DAY1, end=DAY3)
    # then
    assert (statement.opening.cash, statement.opening.positions, statement.opening.value) == (D(10000), [], D(10000))
    assert [(x.date, x.kind, x.symbol, x.amount) for x in statement.activity] == [
        (DAY1, "buy", "AAA", D("-1002.0010")), (DAY1, "buy", "BBB", D("-251.2500")),
        (DAY2, "dividend_entitlement", "BBB", D(0)),
        (DAY3, "dividend", None, D("2.5000")), (DAY3, "sell", "AAA", D("358.6400")), (DAY3, "buy", "AAA", D("-181.1800")),
        (DAY3, "fee", None, D("-5.0000")),
    ]
    closing = statement.closing
    assert closing.cash == D("8921.7090") == year_2024.cash
    assert [(p.symbol, p.quantity, p.price, p.market_value) for p in closing.positions] == [
        ("AAA", D(8), D(90), D("720.0000")), ("BBB", D(5), D("49.5"), D("247.5000")),
    ]
    t = statement.totals
    assert (t.commissions, t.bought, t.sold, t.dividends, t.fees, t.realized_gain, t.net_cash_flow) == (
        D("4.0010"), D("1434.4310"), D("358.6400"), D("2.5000"), D("5.0000"), D("-42.1604"), D("-1078.2910"),
    )
    assert t.market_change == closing.value - D(10000) - D("2.5") + D(5) == D("-108.2910")
    assert [(r.symbol, r.opening, r.bought, r.sold, r.closing) for r in statement.shares] == [
        ("AAA", D(0), D(12), D(4), D(8)), ("BBB", D(0), D(5), D(0), D(5)),
    ]
    assert statement.reconciled


def test_a_later_statement_opens_with_the_previous_close(year_2024):
    statement = statement_get(portfolio=year_2024, start=DAY2, end=DAY3)
    opening = statement.opening
    assert (opening.as_of, opening.cash) == (DAY1, D("8746.7490"))
    assert [(p.symbol, p.quantity, p.market_value) for p in opening.positions] == [
        ("AAA", D(10), D("1000.0000")), ("BBB", D(5), D("250.0000")),
    ]
    assert statement.closing.cash == D("8921.7090") and statement.reconciled


def test_the_apis_serve_json_and_csv_and_refuse_bad_input(year_2024, owner, stranger):
    from tests.conftest import client_for  # the suite's JWT client factory

    client = client_for(owner)
    url = f"{BASE}/{year_2024.pk}"
    report = client.get(f"{url}/tax-report", {"year": 2024})
    assert report.status_code == 200
    assert (report.json()["total"]["net"], report.json()["realized"][0]["adjustment_code"]) == ("-21.0802", "W")
    as_csv = client.get(f"{url}/tax-report", {"year": 2024, "format": "csv"})
    assert as_csv["Content-Type"].startswith("text/csv")
    assert 'filename="tax-report-' in as_csv["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode())))
    realized = [r for r in rows if r["section"] == "realized"]
    assert [(r["symbol"], r["adjustment_code"], r["adjustment"], r["gain_or_loss"]) for r in realized] == [
        ("AAA", "W", "21.0802", "-21.0802"),
    ]
    statement = client.get(f"{url}/statement", {"start": "2024-01-02", "end": "2024-01-04"}, HTTP_ACCEPT="text/csv")
    lines = list(csv.DictReader(io.StringIO(statement.content.decode())))
    assert [r["amount"] for r in lines if r["section"] == "closing_cash"] == ["8921.7090"]
    assert sum(D(r["amount"]) for r in lines if r["section"] == "activity") == D("-1078.2910")
    body = client.get(f"{url}/statement", {"start": "2024-01-02", "end": "2024-01-04"}).json()
    assert (body["closing"]["cash"], body["reconciled"], len(body["activity"])) == ("8921.7090", True, 7)
    # bad input names the field; another user's portfolio is a 404, in JSON even when CSV was asked for
    assert client.get(f"{url}/tax-report", {"year": "1800"}).json()["errors"][0]["attr"] == "year"
    inverted = client.get(f"{url}/statement", {"start": "2024-02-01", "end": "2024-01-01", "format": "csv"})
    assert (inverted.status_code, inverted.json()["errors"][0]["attr"]) == (400, "end")
    other = client_for(stranger).get(f"{url}/statement", {"format": "csv"})
    assert (other.status_code, other["Content-Type"]) == (404, "application/json")


def test_the_fast_json_is_what_the_serializers_give(year_2024):
    from portfolios.apis.statements import (
        StatementActivitySerializer,
        StatementSerializer,
        TaxRealizedLineSerializer,
        TaxReportSerializer,
        _body,
    )
    from portfolios.statements import as_dict

    statement = statement_get(portfolio=year_2024, start=DAY1, end=DAY3)
    report = tax_report_get(portfolio=year_2024, year=2024)
    assert _body(StatementSerializer, statement, {"activity": StatementActivitySerializer}) == StatementSerializer(as_dict(statement)).data
    assert _body(TaxReportSerializer, report, {"realized": TaxRealizedLineSerializer}) == TaxReportSerializer(as_dict(report)).data
