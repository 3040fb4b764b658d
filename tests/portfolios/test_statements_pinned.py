"""The tax report and the statement of a two-year book, pinned line by line (DB).

Taken before ``tax_report_get`` and ``statement_get`` were split into named steps (issue 22):
long- and short-term closings, a washed loss, an applied split and a not-applicable one, a
dividend accrued over a period end and paid in the next, interest, a fee and a withdrawal,
statements opening before, on and after the events, empty years and an empty portfolio.
Row ids are left out (they depend on the order the tests run in).
"""

import dataclasses
import json
import os
from datetime import UTC, date, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest

from marketdata.models import Asset, CorporateAction
from portfolios.models import CashMovement
from portfolios.services import (
    cash_movement_record,
    corporate_actions_apply,
    portfolio_create,
    trades_execute,
)
from portfolios.statements import statement_get, tax_report_get
from portfolios.trading import ProposedTrade

OLD = date(2022, 12, 1)
DAY1, DAY2, DAY3 = date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)
IDS = {"closing_id", "trade_id", "lot_id", "cash_movement_id", "replacement_lot_id", "portfolio_id"}


def order(symbol, side, qty):
    return ProposedTrade(symbol=symbol, side=side, quantity=D(str(qty)), est_price=D(0), est_cost=D(0), reason=side)


def at(day, hour):
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def book(portfolio, bars_make):
    """Funded 2022-11-30; AAA and CCC bought 2022-12-01 (long-term by 2024), BBB on DAY1; a 2-for-1 AAA
    split and a CCC split that its adjusted closes already hold on DAY2; an ordinary BBB dividend (ex DAY2,
    paid DAY3); on DAY3 sells of long-term AAA and CCC, a loss sale of short-term BBB washed by a buy
    back, interest, a fee and a withdrawal."""
    bars_make(OLD, {"AAA": "80", "BBB": "40", "CCC": "22"})
    CashMovement.objects.filter(portfolio=portfolio).update(at=at(date(2022, 11, 30), 15))
    trades_execute(portfolio=portfolio, trades=[order("AAA", "buy", 10), order("CCC", "buy", 10)], as_of=OLD)
    trades_execute(portfolio=portfolio, trades=[order("BBB", "buy", 6)], as_of=DAY1)
    Asset.objects.filter(symbol="CCC").update(price_basis="adjusted")
    for symbol, kind, extra in (
        ("AAA", "split", {"ratio": D(2), "numerator": D(2), "denominator": D(1)}),
        ("CCC", "split", {"ratio": D(2), "numerator": D(2), "denominator": D(1)}),
        ("BBB", "dividend", {"ratio": D("0.25"), "pay_date": DAY3, "qualified": False}),
    ):
        CorporateAction.objects.create(asset=Asset.objects.get(symbol=symbol), date=DAY2, kind=kind, **extra)
    corporate_actions_apply(as_of=DAY2)
    corporate_actions_apply(as_of=DAY3)
    trades_execute(portfolio=portfolio, trades=[order("AAA", "sell", 5), order("CCC", "sell", 4)], as_of=DAY3)
    trades_execute(portfolio=portfolio, trades=[order("BBB", "sell", 4)], as_of=DAY3)
    trades_execute(portfolio=portfolio, trades=[order("BBB", "buy", 1)], as_of=DAY3)
    for kind, amount, hour, note in (("interest", "1.25", 20, "Q4 interest"), ("fee", "3", 21, "account fee"),
                                     ("withdrawal", "100", 22, "to checking")):
        cash_movement_record(portfolio=portfolio, kind=kind, amount=D(amount), at=at(DAY3, hour), note=note)
    portfolio.refresh_from_db()
    return portfolio


def flat(value):
    """A report or statement as plain values without row ids (refs keep their kind only)."""
    def clean(x):
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items() if k not in IDS}
        if isinstance(x, list):
            return [clean(v) for v in x]
        if isinstance(x, str) and x.split("-")[0] in ("trade", "cash", "action") and x.split("-")[-1].isdigit():
            return x.split("-")[0]
        return x if isinstance(x, str | int | bool | type(None)) else str(x)
    return clean(dataclasses.asdict(value))


PINS = Path(__file__).parent / "fixtures" / "statements_pinned.json"
EXPECTED: dict = json.loads(PINS.read_text())


def pinned(name, actual):
    """Compare with the pinned value; ``PIN_DUMP=file`` writes the actual values instead (one JSON
    object a line), for a change of behaviour that is meant (review the diff of the pins)."""
    dump = os.environ.get("PIN_DUMP")
    if dump:
        with open(dump, "a") as out:
            out.write(json.dumps({name: actual}) + "\n")
        return
    assert actual == EXPECTED[name]


@pytest.mark.parametrize("year", [2022, 2023, 2024])
def test_the_tax_report_of_each_year_is_the_pinned_one(book, year):
    pinned(f"tax-{year}", flat(tax_report_get(portfolio=book, year=year)))


@pytest.mark.parametrize(("start", "end"), [
    (OLD, DAY3), (DAY1, DAY1), (DAY2, DAY2), (DAY3, DAY3), (DAY1, DAY3), (date(2024, 1, 5), date(2024, 2, 1)),
])
def test_the_statement_of_each_period_is_the_pinned_one(book, start, end):
    pinned(f"statement-{start}-{end}", flat(statement_get(portfolio=book, start=start, end=end)))


def test_an_empty_portfolio_has_empty_reports(owner, market):
    empty = portfolio_create(owner=owner, name="Empty")
    pinned("tax-empty", flat(tax_report_get(portfolio=empty, year=2024)))
    pinned("statement-empty", flat(statement_get(portfolio=empty, start=DAY1, end=DAY3)))
